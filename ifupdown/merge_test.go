package ifupdown

import (
	"bytes"
	"strings"
	"testing"
)

// operator is an operator's file: comments, loopback and eth0 stanzas, no final
// newline.
const operator = `# interfaces(5) file used by ifup(8) and ifdown(8)
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

# uplink
auto eth0
iface eth0 inet static
    address 192.0.2.10/24
    gateway 192.0.2.1`

func gre(t *testing.T) []byte {
	return RenderInterfaces(desired(t, "../examples/classic-gre.yaml", "docker1"))
}

func vxlan(t *testing.T) []byte {
	return RenderInterfaces(desired(t, "../examples/vxlan-mesh.yaml", "node-a"))
}

func merge(t *testing.T, existing string, block []byte) string {
	t.Helper()
	out, err := MergeInterfaces([]byte(existing), block)
	if err != nil {
		t.Fatalf("MergeInterfaces: %v", err)
	}
	return string(out)
}

func TestMergeInterfaces(t *testing.T) {
	g, v := string(gre(t)), string(vxlan(t))
	// After the block: an operator stanza with CRLF line ends and no final newline.
	tail := "\r\n# added later\r\nauto eth1\r\niface eth1 inet dhcp"
	for _, tc := range []struct {
		name, existing string
		block          []byte
		want           string
	}{
		{"empty file", "", gre(t), g},
		{"append after a missing final newline", operator, gre(t), operator + "\n\n" + g},
		{"append after a final newline", operator + "\n", gre(t), operator + "\n\n" + g},
		{"append after a blank line", operator + "\n\n", gre(t), operator + "\n\n" + g},
		{"append to a CRLF file", "auto lo\r\niface lo inet loopback\r\n", gre(t), "auto lo\r\niface lo inet loopback\r\n\r\n" + g},
		{"replace the block", operator + "\n\n" + g + tail, vxlan(t), operator + "\n\n" + v + tail},
		{"replace a block whose END line has no newline", operator + "\n" + g[:len(g)-1], vxlan(t), operator + "\n" + v},
		{"replace an indented, reworded block", operator + "\n  # BEGIN ovsmesh managed block (v0)\nold\n\t# END ovsmesh managed block, v0\r\n" + tail, gre(t), operator + "\n" + g + tail},
		{"remove the block", operator + "\n\n" + g + tail, nil, operator + "\n\n" + tail},
		{"remove: no block", operator, nil, operator},
		{"a commented-out stanza of ours is no conflict", operator + "\n# iface br0 inet manual\n", gre(t), operator + "\n# iface br0 inet manual\n\n" + g},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := merge(t, tc.existing, tc.block)
			if got != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tc.want)
			}
			if again := merge(t, got, tc.block); again != got {
				t.Errorf("not idempotent: a second merge gave\n%q\nafter\n%q", again, got)
			}
		})
	}
}

func TestMergeInterfacesErrors(t *testing.T) {
	g := string(gre(t))
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	for _, tc := range []struct {
		name, existing string
		want           []string // every error line, in order
	}{
		{"BEGIN without END", lines("auto lo", BeginMarker, "auto br0"),
			[]string{`line 2: "# BEGIN ovsmesh managed block" without a "# END ovsmesh managed block" line after it: ovsmesh will not guess where its block ends, fix the markers by hand`}},
		{"END without BEGIN", lines("auto lo", "", EndMarker),
			[]string{`line 3: "# END ovsmesh managed block" without a "# BEGIN ovsmesh managed block" line before it: fix the markers by hand`}},
		{"two blocks", "auto lo\n" + g + "\n" + g,
			[]string{`line 39: a second ovsmesh block (the first is lines 2-37): remove one of them by hand`}},
		{"BEGIN inside the block", lines(BeginMarker, "x", BeginMarker, EndMarker),
			[]string{`line 3: a second "# BEGIN ovsmesh managed block" inside the ovsmesh block begun at line 1, which has no "# END ovsmesh managed block" before it: fix the markers by hand`}},
		{"two END lines", lines(BeginMarker, EndMarker, EndMarker),
			[]string{`line 3: a second "# END ovsmesh managed block" (the ovsmesh block is lines 1-2): fix the markers by hand`}},
		{"the old recipe beside a new block", lines("auto lo", "allow-ovs br0", "iface br0 inet manual", "    ovs_type OVSBridge", "",
			"iface docker0 \\", "   inet static", "  bridge_ports br0", "iface eth0 inet dhcp"),
			[]string{
				`line 3: iface "br0" is also defined in the ovsmesh block, and ifupdown would configure it twice: remove or rename this stanza (ovsmesh now builds br0)`,
				`line 6: iface "docker0" is also defined in the ovsmesh block, and ifupdown would configure it twice: remove or rename this stanza (ovsmesh now builds docker0)`,
			}},
		{"the old recipe around an old block", "iface gre-docker2 inet manual\n" + g + "\n\niface docker0 inet static\n",
			[]string{
				`line 1: iface "gre-docker2" is also defined in the ovsmesh block, and ifupdown would configure it twice: remove or rename this stanza (ovsmesh now builds gre-docker2)`,
				`line 40: iface "docker0" is also defined in the ovsmesh block, and ifupdown would configure it twice: remove or rename this stanza (ovsmesh now builds docker0)`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := MergeInterfaces([]byte(tc.existing), gre(t))
			if err == nil {
				t.Fatalf("no error; merged:\n%s", out)
			}
			if out != nil {
				t.Errorf("output beside the error: %q", out)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestMergeInterfacesRejectsABadBlock(t *testing.T) {
	g := gre(t)
	for name, block := range map[string][]byte{
		"no BEGIN":         g[len(BeginMarker)+1:],
		"no final newline": g[:len(g)-1],
		"a marker inside":  bytes.Replace(g, []byte("\nauto br0\n"), []byte("\n"+EndMarker+"\n"), 1),
	} {
		if _, err := MergeInterfaces([]byte(operator), block); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
