package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// TestReboot proves the files step on a rebooted host: the ovsmesh block that
// apply wrote into /etc/network/interfaces, brought up by Debian's ifupdown with
// the openvswitch-switch and bridge-utils hooks on a host whose OVSDB is empty,
// rebuilds the same bridge, tunnels (with ovsmesh's ownership marks) and docker0,
// and the next `ovsmesh apply` sends no OVSDB write: it only installs the flow
// table, which lives in ovs-vswitchd and is lost by a reboot.
func TestReboot(t *testing.T) {
	t.Parallel()
	testenv.RequireBinaries(t, "ifup", "brctl", "unshare", "mount", "ovsdb-tool", "ovs-ofctl")
	testenv.SkipShort(t, "root and the lab (an end-to-end test)")
	// Registered before the lab, so it runs after the lab's teardown: the
	// machine's own network configuration must come out of the test untouched.
	system := rebootSystemFiles(t)
	t.Cleanup(func() {
		if got := rebootSystemFiles(t); !slices.Equal(got, system) {
			t.Errorf("the machine's network files changed during the test:\nbefore: %q\nafter:  %q", system, got)
		}
	})

	c := newCluster(t, labTopology("  encap: gre\n  mode: mesh\n", 3))
	const host = "docker1"
	h := c.host(host)
	ifaces := filepath.Join(c.dir, host, "interfaces")
	const loopback = "auto lo\niface lo inet loopback\n"
	if err := os.WriteFile(ifaces, []byte(loopback), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustApply()
	file, err := os.ReadFile(ifaces)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(file), loopback) || !strings.Contains(string(file), "# BEGIN ovsmesh managed block") {
		t.Fatalf("%s after apply lost the loopback stanza or has no ovsmesh block:\n%s", ifaces, file)
	}

	// Before any container: docker0's ports are then what ovsmesh made.
	applied := rebootHostState(t, c, host)
	appliedFlows := slices.Sorted(maps.Keys(flowTable(t, c, host)))
	if len(appliedFlows) == 0 {
		t.Fatalf("%s has no flows after apply", host)
	}

	hosts := []string{"docker1", "docker2", "docker3"}
	cts := map[string]*lab.Container{}
	for _, name := range hosts {
		cts[name] = c.container(name, 2)
	}
	pingAll(t, hosts, cts)
	if t.Failed() {
		t.FailNow()
	}

	start := time.Now()
	rebootFreshHost(t, c, host, cts[host])
	t.Logf("%s rebooted (daemons stopped, empty database, links gone, br-phy rebuilt) in %v", host, time.Since(start).Round(time.Millisecond))

	dbLog := &ovsdbLog{path: filepath.Join(h.RunDir, "ovsdb-server.log")}
	atBoot := dbLog.read(t, 0)
	start = time.Now()
	calls := rebootIfup(t, c, host, ifaces)
	t.Logf("ifup -a on %s: %v", host, time.Since(start).Round(time.Millisecond))
	afterIfup := dbLog.read(t, 0)
	if len(afterIfup.transacts) == len(atBoot.transacts) {
		t.Errorf("no transact request in %s during ifup -a: is the jsonrpc debug log on?", dbLog.path)
	}
	t.Logf("ifup -a sent %d transact requests to ovsdb-server", len(afterIfup.transacts)-len(atBoot.transacts))
	// The OVS hook asks whether openvswitch-switch runs, the resolved hook whether
	// systemd-resolved is enabled; nothing may start, stop or reload a service.
	asked := false
	for _, call := range calls {
		switch call {
		case "--quiet is-active openvswitch-switch.service":
			asked = true
		case "is-enabled systemd-resolved":
		default:
			t.Errorf("a hook ran systemctl %s", call)
		}
	}
	if !asked {
		t.Errorf("the OVS hook never asked systemctl whether openvswitch-switch is active (calls: %q): did ifup run the hook?", calls)
	}

	t.Run("ifup rebuilds what apply built", func(t *testing.T) {
		booted := rebootHostState(t, c, host)
		rebootCheckText(t, "state after ifup -a", booted, []string{
			"br0 mtu=1462 up=true",
			"bridge br-phy datapath_type=netdev fail_mode= protocols= stp_enable=false rstp_enable=false other_config= external_ids=",
			"bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 stp_enable=false rstp_enable=false other_config= external_ids=ovsmesh-owner=docker1",
			"docker0 kind=bridge mac=02:42:ac:11:00:01 mtu=1462 up=true addresses=172.17.0.1/16 ports=br0",
			"interface br-phy type=internal options= ofport_request= ofport=65534 mtu_request= bfd= external_ids=",
			"interface br0 type=internal options= ofport_request= ofport=65534 mtu_request=1462 bfd= external_ids=ovsmesh-owner=docker1",
			"interface eth0 type= options= ofport_request= ofport=1 mtu_request= bfd= external_ids=",
			"interface gre-docker2 type=gre options=local_ip=198.18.0.1,remote_ip=198.18.0.2 ofport_request=32770 ofport=32770 mtu_request= bfd= external_ids=ovsmesh-owner=docker1",
			"interface gre-docker3 type=gre options=local_ip=198.18.0.1,remote_ip=198.18.0.3 ofport_request=32771 ofport=32771 mtu_request= bfd= external_ids=ovsmesh-owner=docker1",
			"port br-phy external_ids= other_config=",
			"port br0 external_ids=ovsmesh-owner=docker1 other_config=",
			"port eth0 external_ids= other_config=",
			"port gre-docker2 external_ids=ovsmesh-owner=docker1 other_config=",
			"port gre-docker3 external_ids=ovsmesh-owner=docker1 other_config=",
			"ports of br0: gre-docker2 gre-docker3",
		})
		rebootCheckText(t, "state after ifup -a, against the state after the first apply", booted, applied)
		if got := slices.Sorted(maps.Keys(flowTable(t, c, host))); len(got) != 0 {
			t.Errorf("a freshly booted br0 has %d flows, want none (ovs-vswitchd kept flows across the reboot?):\n%s", len(got), strings.Join(got, "\n"))
		}
	})

	t.Run("apply after the reboot writes no OVSDB row and installs the flows", func(t *testing.T) {
		out, err := c.apply(host)
		afterApply := dbLog.read(t, 0)
		t.Logf("apply on %s after ifup -a:\n%s", host, out)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		steps := rebootChangeLines(t, host, out)
		for _, step := range []string{"ovsdb", "docker0", "files"} {
			if len(steps[step]) > 0 {
				t.Errorf("apply changed %s after ifup -a rebuilt it, want nothing:\n%s", step, strings.Join(steps[step], "\n"))
			}
		}
		if len(steps["openflow"]) == 0 {
			t.Errorf("apply installed no flows on the rebooted host, whose flow table is empty")
		}
		t.Logf("change lines by step: ovsdb %d, docker0 %d, openflow %d, files %d",
			len(steps["ovsdb"]), len(steps["docker0"]), len(steps["openflow"]), len(steps["files"]))
		if n := len(afterApply.transacts) - len(afterIfup.transacts); n != 0 {
			t.Errorf("ovsdb-server received %d transact requests during the apply, want none", n)
		}
		if !afterApply.newClientSince(afterIfup) {
			t.Errorf("%s shows no request from a new client during the apply: the transact count proves nothing", dbLog.path)
		}
		rebootCheckText(t, "flows after apply, against the flows before the reboot", slices.Sorted(maps.Keys(flowTable(t, c, host))), appliedFlows)
		rebootCheckText(t, "state after apply, against the state before the reboot", rebootHostState(t, c, host), applied)

		out, err = c.apply(host)
		if err != nil || !strings.Contains(out, host+": matches the plan, nothing to change") {
			t.Errorf("second apply after the reboot: %v\n%s", err, out)
		}
	})

	cts[host] = c.container(host, 3) // the old container died with the host
	pingAll(t, hosts, cts)
}
