package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stpFile is an n-host topology with the given network settings (YAML flow
// mapping entries, e.g. "mode: stp, rstp: true"), hosts h001... and the links
// given (none: no links key).
func stpFile(network string, n int, links []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "network: {encap: gre, subnet: 240.0.0.0/4, slice_prefix: 18, %s}\nhosts:\n", network)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "  - {name: h%03d, address: 10.0.%d.%d, index: %d}\n", i, i>>8, i&255, i)
	}
	if links != nil {
		sb.WriteString("links:\n")
		for _, l := range links {
			sb.WriteString("  - " + l + "\n")
		}
	}
	return sb.String()
}

// star links h001 to each of h002 to h(n).
func star(n int) []string {
	var links []string
	for i := 2; i <= n; i++ {
		links = append(links, fmt.Sprintf("{a: h001, b: h%03d}", i))
	}
	return links
}

const (
	waysSTP  = "set network.rstp: true (RSTP handles 4095 ports), or use mode tree or mode mesh"
	waysRSTP = "use mode tree or mode mesh"
	loops    = "OVS would leave the other tunnels outside the spanning tree, forwarding, and the mesh would loop"
)

// TestSTPPortLimit: in stp mode no host may have more tunnels than 802.1D STP
// (255) or RSTP (4095) can number; other modes have no such limit.
func TestSTPPortLimit(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // nil: valid
	}{
		{"full stp mesh of 256 hosts", stpFile("mode: stp", 256, nil), nil},
		{"full stp mesh of 257 hosts", stpFile("mode: stp", 257, nil), []string{
			`t.yaml:3:5: hosts[0]: h001 would have 256 tunnels, as would each of the other 256 hosts (mode stp without links joins every pair), but 802.1D STP handles at most 255 ports per bridge: ` + loops + "; " + waysSTP + ", or list links"}},
		{"full rstp mesh of 300 hosts", stpFile("mode: stp, rstp: true", 300, nil), nil},
		{"full rstp mesh of 4097 hosts", stpFile("mode: stp, rstp: true", 4097, nil), []string{
			`t.yaml:3:5: hosts[0]: h001 would have 4096 tunnels, as would each of the other 4096 hosts (mode stp without links joins every pair), but RSTP handles at most 4095 ports per bridge: ` + loops + "; " + waysRSTP + ", or list links"}},
		{"full rstp mesh of 4096 hosts", stpFile("mode: stp, rstp: true", 4096, nil), nil},
		{"stp star of 255 links", stpFile("mode: stp", 256, star(256)), nil},
		{"stp star of 256 links", stpFile("mode: stp", 257, star(257)), []string{
			`t.yaml:3:5: hosts[0]: h001 would have 256 tunnels (one per host its links join it to), but 802.1D STP handles at most 255 ports per bridge: ` + loops + "; " + waysSTP + ", or list fewer links for it"}},
		{"stp star of 256 links, one of them twice", stpFile("mode: stp", 256, append(star(256), "{a: h256, b: h001}")), []string{
			`t.yaml:515:5: links[255]: links h256 and h001 again, as links[254] does`}},
		{"rstp star of 256 links", stpFile("mode: stp, rstp: true", 257, star(257)), nil},
		{"tree of 300 hosts", stpFile("mode: tree", 300, nil), nil},
		{"mesh of 300 hosts", stpFile("mode: mesh", 300, nil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile("t.yaml", []byte(tc.yaml))
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == nil:
				return
			case err == nil:
				t.Fatalf("accepted, want %s", strings.Join(tc.want, "\n"))
			}
			if got := err.Error(); got != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", got, strings.Join(tc.want, "\n      "))
			}
		})
	}
}

// TestLinkDegrees counts each pair once, and nothing for links to unknown hosts
// or from a host to itself.
func TestLinkDegrees(t *testing.T) {
	topo := &Topology{
		Hosts: []Host{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Links: []Link{{A: "a", B: "b"}, {A: "b", B: "a"}, {A: "a", B: "c"}, {A: "c", B: "c"}, {A: "c", B: "x"}},
	}
	if got, want := fmt.Sprint(topo.linkDegrees()), "[2 1 1]"; got != want {
		t.Errorf("linkDegrees() = %s, want %s", got, want)
	}
}

// TestFileSizeLimit: a file over MaxFileSize is refused, naming the file, by Load
// (before it is read) and by Compile; the 10,000-host benchmark's file is far
// below it.
func TestFileSizeLimit(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("network:\n  encap: vxlan\n  subnet: 240.0.0.0/4\n  slice_prefix: 18\nhosts:\n")
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&sb, "  - {name: host%05d, address: 10.%d.%d.%d, index: %d}\n", i, i>>16, (i>>8)&255, i&255, i)
	}
	dir := t.TempDir()
	ok := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(ok, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ok); err != nil {
		t.Errorf("the 10,000-host file (%d bytes): %v", sb.Len(), err)
	}
	pad := MaxFileSize + 1 - sb.Len()
	sb.WriteString("#" + strings.Repeat("x", pad-2) + "\n")
	huge := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(huge, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := huge + ": file is 4194305 bytes, more than the limit of 4194304 (4 MiB; a 10,000-host file is about 0.6 MB): is it the right file?"
	if _, err := Load(huge); err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
	if _, err := Compile(huge, []byte(sb.String())); err == nil || err.Error() != want {
		t.Errorf("Compile: %v, want %s", err, want)
	}
}
