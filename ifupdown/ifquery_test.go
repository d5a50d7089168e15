package ifupdown

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// TestIfqueryReadsTheMergedFile has Debian's own ifupdown parse a merged file: the
// classes, the interfaces and the option values the hooks will see.
func TestIfqueryReadsTheMergedFile(t *testing.T) {
	ifquery := testenv.RequireBinary(t, "ifquery", "ifupdown")
	s := desired(t, "../examples/lab.yaml", "docker3")
	full, err := MergeInterfaces([]byte(operator), RenderInterfaces(s))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "interfaces")
	if err := os.WriteFile(file, full, 0o644); err != nil {
		t.Fatal(err)
	}
	query := func(args ...string) string {
		t.Helper()
		args = append([]string{"-i", file, "--state-dir", dir}, args...)
		out, err := exec.Command(ifquery, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ifquery %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		// What openvswitch-switch's sysvinit script raises.
		{[]string{"--list", "--allow=ovs"}, "br0\n"},
		// What networking.service raises at boot (ifup -a).
		{[]string{"--list", "-a"}, "lo\neth0\nbr0\n"},
		// What the OVS hook raises after creating br0, in this order.
		{[]string{"--list", "--allow=br0"}, "gre-docker1\ngre-docker2\ndocker0\n"},
		{[]string{"docker0"}, "address: 172.17.0.3\nhwaddress: 02:42:ac:11:00:03\nmtu: 1462\nbridge_ports: br0\nbridge_stp: off\nbridge_fd: 0\n" +
			"bridge_maxwait: 0\nup: ip link set dev docker0 alias ovsmesh-owner=docker3\nbroadcast: 172.17.255.255\nnetmask: 255.255.0.0\n"},
	} {
		if got := query(tc.args...); got != tc.want {
			t.Errorf("ifquery %s:\n%s\nwant:\n%s", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	// The option values after ifupdown joined the continuation lines, split into the
	// words the hook passes to ovs-vsctl.
	words := func(iface, option string) []string {
		for _, line := range strings.Split(query(iface), "\n") {
			if v, ok := strings.CutPrefix(line, option+": "); ok {
				return strings.Fields(v)
			}
		}
		t.Fatalf("ifquery %s: no %s", iface, option)
		return nil
	}
	owner := "external_ids:ovsmesh-owner=docker3"
	for _, tc := range []struct {
		iface, option, want string
	}{
		{"br0", "ovs_type", "OVSBridge"},
		{"br0", "ovs_ports", "gre-docker1 gre-docker2 docker0"},
		{"br0", "ovs_extra", "set bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 " +
			owner + " -- set port br0 " + owner + " -- set interface br0 mtu_request=1462 " + owner},
		{"gre-docker2", "ovs_type", "OVSTunnel"},
		{"gre-docker2", "ovs_bridge", "br0"},
		{"gre-docker2", "ovs_tunnel_type", "gre"},
		{"gre-docker2", "ovs_tunnel_options", "options:remote_ip=198.18.0.2 options:local_ip=198.18.0.3 ofport_request=32770 " + owner},
		{"gre-docker2", "ovs_extra", "set port gre-docker2 " + owner},
	} {
		if got := words(tc.iface, tc.option); !slices.Equal(got, strings.Fields(tc.want)) {
			t.Errorf("%s %s: %q\nwant %q", tc.iface, tc.option, strings.Join(got, " "), tc.want)
		}
	}
}
