package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// Tunnel packets a container crafts itself (issue 19, item 5). A container reaches
// the peers' underlay addresses through its host's NAT, the way Docker's
// MASQUERADE lets it, and a GRE or VXLAN packet it builds arrives at a peer
// from the host's own address: the remote_ip the peer's tunnel port takes
// frames from. Each test sends such packets from a container on docker1, with
// the identity the mode lets through best, to docker3's underlay address (the
// peer's tunnel endpoint) and to docker1's own (its own endpoint), and counts:
// the packets that reach docker3's underlay interface, the inner frames docker3
// delivers to its container, and the packets that reach docker1's input hook,
// where the kernel datapath's gre_sys or vxlan_sys device would take them.
// Every count must be 0 with ovsmesh's table (inet ovsmesh) in place. As a
// control, the table is then deleted by hand: the same packets must reach all
// three places, and one pass must put the table back.

// injectID is the IPv4 identification of every crafted outer packet: captures
// and counters select them by it (NAT keeps it).
const injectID = 0x6f6d

// injectLab is a 3-host lab with a container on each host: a (docker1) sends,
// b (docker2) is the identity some modes spoof, v (docker3) is the victim.
type injectLab struct {
	*cluster
	a, b, v *lab.Container
}

func newInjectLab(t *testing.T, network string, links ...string) *injectLab {
	c := newCluster(t, labTopology(network, 3, links...))
	c.mustApply()
	l := &injectLab{cluster: c, a: c.container("docker1", 2), b: c.container("docker2", 2), v: c.container("docker3", 2)}
	// docker1 as Docker leaves a host: forwarding on, the containers' subnet
	// masqueraded behind the host's address. And a counter of the crafted
	// packets that reach its input hook, after ovsmesh's chains.
	subnet := c.plan("docker1").Docker.Subnet
	hostRun(t, l.cluster, "docker1", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	hostRun(t, l.cluster, "docker1", "nft", fmt.Sprintf(`add table ip omtest-nat; add chain ip omtest-nat post { type nat hook postrouting priority 100; policy accept; }; add rule ip omtest-nat post ip saddr %s oifname != "docker0" masquerade`, subnet))
	hostRun(t, l.cluster, "docker1", "nft", fmt.Sprintf(`add table inet omtest; add chain inet omtest in { type filter hook input priority 100; policy accept; }; add rule inet omtest in ip id %d counter`, injectID))
	for _, ct := range []*lab.Container{l.a, l.b} { // RSTP to forward
		if _, err := pingWithin(ct, l.v.Addr.Addr(), 40*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// identity is the inner frame's source: a container's MAC and address.
type identity struct {
	mac net.HardwareAddr
	ip  netip.Addr
}

// tunnelPacket is an Ethernet frame to the gateway (gw) carrying an IPv4 packet
// from src to dst that encapsulates inner as ovsmesh's tunnels do: GRE with
// transparent Ethernet bridging (and a key unless key < 0), or VXLAN to port
// with VNI key.
func tunnelPacket(srcMAC, gw net.HardwareAddr, src, dst netip.Addr, encap string, port int, key int64, inner []byte) []byte {
	var proto byte
	var l4 []byte
	if encap == "gre" {
		proto, l4 = 47, []byte{0, 0, 0x65, 0x58}
		if key >= 0 {
			l4[0] = 0x20
			l4 = binary.BigEndian.AppendUint32(l4, uint32(key))
		}
	} else {
		proto = 17
		l4 = binary.BigEndian.AppendUint16(nil, 49152)
		l4 = binary.BigEndian.AppendUint16(l4, uint16(port))
		l4 = binary.BigEndian.AppendUint16(l4, uint16(8+8+len(inner)))
		l4 = append(l4, 0, 0, 0x08, 0, 0, 0)
		l4 = binary.BigEndian.AppendUint32(l4, uint32(max(key, 0))<<8)
	}
	l4 = append(l4, inner...)
	ip := []byte{0x45, 0, 0, 0, injectID >> 8, injectID & 0xff, 0x40, 0, 64, proto, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	s, d := src.As4(), dst.As4()
	ip = append(append(ip, s[:]...), d[:]...)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return ether(gw, srcMAC, etherIPv4, append(ip, l4...))
}

// injected is what became of the crafted packets.
type injected struct{ peer, victim, own int }

// inject sends n crafted packets from a to docker3's underlay address, n to
// docker1's own, and counts where they arrived.
func (l *injectLab) inject(t *testing.T, key int64, id identity, n int) injected {
	t.Helper()
	n1 := l.plan("docker1")
	gw, err := net.ParseMAC(n1.Docker.MAC)
	if err != nil {
		t.Fatal(err)
	}
	inner := ether(macOf(t, l.v), id.mac, etherIPv4, ipv4UDP(id.ip, l.v.Addr.Addr()))
	encap, port := l.topo.Network.Encap, l.topo.Network.VXLANPort
	to := func(dst netip.Addr) []byte {
		return tunnelPacket(macOf(t, l.a), gw, l.a.Addr.Addr(), dst, encap, port, key, inner)
	}
	peerCap := startCaptureIn(t, "docker3", l.host("docker3").Command, fmt.Sprintf("ip[4:2] = %d", injectID))
	victimCap := startCapture(t, l.v, "udp port 12345")
	before := l.ownCount(t)
	sendFrames(t, l.a, n, to(l.host("docker3").Underlay), to(l.host("docker1").Underlay))
	time.Sleep(time.Second)
	return injected{peer: len(peerCap.stop()), victim: len(victimCap.stop()), own: l.ownCount(t) - before}
}

var packetsRE = regexp.MustCompile(`counter packets (\d+)`)

// ownCount reads how many crafted packets reached docker1's input hook.
func (l *injectLab) ownCount(t *testing.T) int {
	t.Helper()
	m := packetsRE.FindStringSubmatch(hostRun(t, l.cluster, "docker1", "nft", "list", "chain", "inet", "omtest", "in"))
	if m == nil {
		t.Fatal("no counter in table inet omtest")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// testInject runs the test on a lab built with network (see the top of the file).
func testInject(t *testing.T, network string, key func(l *injectLab) int64, spoof bool, links ...string) {
	l := newInjectLab(t, network, links...)
	id := identity{macOf(t, l.a), l.a.Addr.Addr()}
	if spoof {
		id = identity{macOf(t, l.b), l.b.Addr.Addr()}
	}
	k := key(l)
	const n = 3
	if got := l.inject(t, k, id, n); got != (injected{}) {
		t.Errorf("with ovsmesh's table: %d crafted packets reached docker3's underlay, %d inner frames its container, %d docker1's input hook; want none", got.peer, got.victim, got.own)
	}
	// The control: without the table, the same packets get through.
	_, _ = l.host("docker1").Run(context.Background(), "nft", "delete", "table", "inet", "ovsmesh")
	if got := l.inject(t, k, id, n); got != (injected{n, n, n}) {
		t.Errorf("without ovsmesh's table (the control): got %+v, want %d everywhere", got, n)
	}
	out, err := l.apply("docker1")
	if err != nil || !strings.Contains(out, "firewall: create table inet ovsmesh") {
		t.Errorf("the pass after the table was deleted (%v):\n%s", err, out)
	}
	if got := l.inject(t, k, id, n); got != (injected{}) {
		t.Errorf("after the repair: got %+v, want none", got)
	}
	l.statusShowsDrops(t, n)
	if out, err := l.apply("docker1"); err != nil || !strings.Contains(out, "matches the plan, nothing to change") {
		t.Errorf("a second pass (%v):\n%s", err, out)
	}
}

// noKey: tunnels without a key (GRE without the key field, VXLAN's VNI 0).
func noKey(*injectLab) int64 { return -1 }

// treeKey is the key of docker3's tunnel from docker1.
func treeKey(l *injectLab) int64 {
	for _, tu := range l.plan("docker3").OVS.Tunnels {
		if tu.Peer == "docker1" {
			k, err := strconv.ParseInt(tu.Key, 10, 64)
			if err != nil {
				l.t.Fatalf("tree key %q: %v", tu.Key, err)
			}
			return k
		}
	}
	l.t.Fatal("docker3 has no tunnel to docker1")
	return 0
}

// relayedFromDocker2 is the relay mark "relayed from host 2" (docs/bfd.md): with
// it docker3 takes the frame from docker1's tunnel as one docker2 sent.
func relayedFromDocker2(*injectLab) int64 { return 0x400000 | 2 }

func TestInjectGRE(t *testing.T)   { testInjectModes(t, "gre") }
func TestInjectVXLAN(t *testing.T) { testInjectModes(t, "vxlan") }

func testInjectModes(t *testing.T, encap string) {
	net := "  encap: " + encap + "\n"
	t.Run("mesh", func(t *testing.T) {
		t.Parallel()
		testInject(t, net+"  mode: mesh\n", noKey, false)
	})
	t.Run("mesh-bfd-relay", func(t *testing.T) {
		t.Parallel()
		testInject(t, net+"  mode: mesh\n  bfd: true\n", relayedFromDocker2, true)
	})
	t.Run("tree", func(t *testing.T) {
		t.Parallel()
		testInject(t, net+"  mode: tree\n", treeKey, false)
	})
	t.Run("stp", func(t *testing.T) {
		t.Parallel()
		testInject(t, net+"  mode: stp\n  rstp: true\n", noKey, true,
			"{a: docker1, b: docker3, cost: 1}", "{a: docker2, b: docker3, cost: 1}")
	})
}

// statusShowsDrops checks that `ovsmesh status` on docker1 shows the packets
// its table dropped: n in input and n in forward, by the rule matching the
// bridge and the protocol.
func (l *injectLab) statusShowsDrops(t *testing.T, n int) {
	t.Helper()
	h := l.host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Run(ctx, ovsmeshBin, "status", "--db", h.DB())
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	proto := "meta l4proto gre"
	if l.topo.Network.Encap == "vxlan" {
		proto = fmt.Sprintf("udp dport %d", l.topo.Network.VXLANPort)
	}
	for _, want := range []string{
		fmt.Sprintf("input iifname docker0 %s counter drop %d", proto, n),
		fmt.Sprintf("forward iifname docker0 oifname != docker0 %s counter drop %d", proto, n),
	} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			found = found || strings.Join(strings.Fields(line), " ") == want
		}
		if !found {
			t.Errorf("status has no line %q:\n%s", want, out)
		}
	}
}
