package hostcheck

import (
	"net/netip"
	"strings"
	"testing"
)

var (
	ul       = netip.MustParseAddr("198.18.0.1")
	labDB    = OVSDBFacts{Endpoint: "unix:/run/db.sock", OVSVersion: "3.1.0", DBVersion: "8.3.1", Bridges: []OVSBridge{{Name: "br-phy", Datapath: "netdev", Ifaces: []OVSIface{{Port: "br-phy", Name: "br-phy", Type: "internal"}, {Port: "eth0", Name: "eth0"}}}}}
	okDaemon = OVSFacts{DB: labDB, ServerVersion: "ovsdb-server (Open vSwitch) 3.1.0", VSwitchd: "ovs-vswitchd (Open vSwitch) 3.1.0"}
)

func TestJudgeOVSNetdev(t *testing.T) {
	f := okDaemon
	f.UnderlayDev = "br-phy"
	got := itemsText(JudgeOVS(OVSPlan{Datapath: "netdev", Address: ul}, f))
	for _, want := range []string{
		"ok       ovs ovsdb-server: answers at unix:/run/db.sock (database schema 8.3.1): ovsdb-server (Open vSwitch) 3.1.0\n",
		"ok       ovs ovs-vswitchd: answers: ovs-vswitchd (Open vSwitch) 3.1.0\n",
		"ok       ovs datapath netdev: the underlay address 198.18.0.1 is on br-phy, an internal port of netdev bridge br-phy",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q in\n%s", want, got)
		}
	}
	for dev, want := range map[string]string{
		"eth0": `problem  ovs datapath netdev: the underlay address 198.18.0.1 is on eth0, a port of type "(none)" on bridge br-phy`,
		"ens3": "problem  ovs datapath netdev: the underlay address 198.18.0.1 is on ens3, which is not an OVS port",
		"":     "problem  ovs datapath netdev: no interface of this host holds the underlay address 198.18.0.1",
	} {
		f.UnderlayDev = dev
		if got := itemsText(JudgeOVS(OVSPlan{Datapath: "netdev", Address: ul}, f)); !strings.Contains(got, want) {
			t.Errorf("on %q: lacks %q in\n%s", dev, want, got)
		}
	}
}

func TestJudgeOVSDaemonsDown(t *testing.T) {
	f := OVSFacts{DB: OVSDBFacts{Endpoint: "unix:/run/db.sock", Err: "does not answer"}, VSwitchdErr: "ovs-appctl: no pidfile", Module: ModuleLoaded}
	got := itemsText(JudgeOVS(OVSPlan{Datapath: "system", Address: ul}, f))
	for _, want := range []string{
		"problem  ovs ovsdb-server: unix:/run/db.sock: does not answer",
		"fix: start Open vSwitch (systemctl start openvswitch-switch)",
		"problem  ovs ovs-vswitchd: does not answer: ovs-appctl: no pidfile",
		"ok       ovs datapath system: the openvswitch kernel module is loaded",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q in\n%s", want, got)
		}
	}
}

func TestJudgeOVSModule(t *testing.T) {
	for m, want := range map[ModuleState]string{
		ModuleLoaded:   "ok       ovs datapath system",
		ModuleLoadable: "warning  ovs datapath system: the openvswitch kernel module is not loaded, but loadable",
		ModuleAbsent:   "problem  ovs datapath system: no openvswitch kernel module",
	} {
		f := okDaemon
		f.Module = m
		if got := itemsText(JudgeOVS(OVSPlan{Datapath: "system", Address: ul}, f)); !strings.Contains(got, want) {
			t.Errorf("%s: lacks %q in\n%s", m, want, got)
		}
	}
}
