package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("network:\n  encap: geneve\n  mtuu: 1\nhosts:\n  - {name: a, address: 10.0.0.300, index: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"validate", "../../examples/lab.yaml"}, 0, "../../examples/lab.yaml: ok: 3 hosts, gre mesh, mtu 1462, 3 tunnels"},
		{[]string{"validate", bad}, 1, bad + `:2:10: network.encap: "geneve" is not one of gre, vxlan` + "\n" +
			bad + `:3:3: network.mtuu: unknown key (known keys: bfd, bfd_interval_ms, bfd_mult, bridge, datapath, docker_bridge, encap, key, mode, mtu, rstp, slice_prefix, subnet, underlay_mtu, vxlan_port)` + "\n" +
			bad + `:5:24: hosts[0].address: "10.0.0.300" is not an IP address`},
		{[]string{"validate", "/nonexistent.yaml"}, 1, "read topology: open /nonexistent.yaml: no such file or directory"},
		{[]string{"validate"}, 2, "want one topology file, got 0 arguments"},
		{[]string{"validate", "a", "b"}, 2, "want one topology file, got 2 arguments"},
		{[]string{"plan", "../../examples/lab.yaml", "--hots", "x"}, 2, "unknown flag: --hots"},
		{[]string{"plan", "../../examples/lab.yaml", "--host", "docker1", "-o", "yaml"}, 2, `-o "yaml": want text, json or dot`},
		{[]string{"plan", "../../examples/lab.yaml", "--host", "docker9"}, 1, `host "docker9" is not in ../../examples/lab.yaml (known hosts: docker1, docker2, docker3)`},
		{[]string{"plan", "../../examples/lab.yaml", "--host", "docker2"}, 0, "host docker2 (index 2) in a 3-host gre mesh, 2 tunnels"},
		{[]string{"plan", "../../examples/lab.yaml", "--host", "docker2", "-o", "json"}, 0, `"fixed_cidr": "172.17.128.0/18"`},
		{[]string{"plan", "../../examples/tree.yaml", "-o", "dot"}, 0, `"rack1-a" -- "rack2-a" [label="cost 10", tooltip="tree", penwidth=2];`},
		{[]string{"render", "../../examples/classic-gre.yaml", "--host", "docker2"}, 0, `"fixed-cidr": "172.17.128.0/18"`},
		{[]string{"nosuchcommand"}, 2, `unknown command "nosuchcommand"`},
		{[]string{"version"}, 0, "ovsmesh "},
	}
	for _, c := range cases {
		code, stdout, stderr := run(t, c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.contains) {
			t.Errorf("ovsmesh %s: exit %d, want %d; output must contain %q\nstdout: %s\nstderr: %s",
				strings.Join(c.args, " "), code, c.code, c.contains, stdout, stderr)
		}
	}
}

// TestRenderWritesOnlyWhenChanged: render merges into existing files, keeps the
// operator's content, and leaves the files alone on a second run.
func TestRenderWritesOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	ifaces, dj := filepath.Join(dir, "interfaces"), filepath.Join(dir, "daemon.json")
	operator := "auto lo\niface lo inet loopback\n"
	if err := os.WriteFile(ifaces, []byte(operator), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dj, []byte(`{"log-driver": "journald", "bridge": "docker0", "bip": "172.18.0.1/16"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"render", "../../examples/classic-gre.yaml", "--host", "docker1", "--interfaces", ifaces, "--daemon-json", dj}
	code, stdout, stderr := run(t, args...)
	if code != 0 || stdout != ifaces+": written\n"+dj+": written\n" {
		t.Fatalf("first render: exit %d\n%s%s", code, stdout, stderr)
	}
	got, _ := os.ReadFile(ifaces)
	if !strings.HasPrefix(string(got), operator) || !strings.Contains(string(got), "ovs_type OVSBridge") {
		t.Errorf("interfaces:\n%s", got)
	}
	got, _ = os.ReadFile(dj)
	if !strings.Contains(string(got), `"log-driver": "journald"`) || !strings.Contains(string(got), `"bip": "172.17.0.1/16"`) || strings.Contains(string(got), `"bridge"`) || !strings.Contains(string(got), `"mtu": 1462`) {
		t.Errorf("daemon.json:\n%s", got)
	}
	code, stdout, _ = run(t, args...)
	if code != 0 || stdout != ifaces+": unchanged\n"+dj+": unchanged\n" {
		t.Errorf("second render: exit %d, %q", code, stdout)
	}
}
