package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// l2Lab is a 3-host cluster with container 2 on every host, each of which has
// pinged every other (so every host has seen every container's MAC).
type l2Lab struct {
	*cluster
	cts map[string]*lab.Container
}

func newL2Lab(t *testing.T, network string) *l2Lab {
	c := newCluster(t, labTopology(network, 3))
	c.mustApply()
	l := &l2Lab{cluster: c, cts: map[string]*lab.Container{}}
	hosts := []string{"docker1", "docker2", "docker3"}
	for _, h := range hosts {
		l.cts[h] = c.container(h, 2)
	}
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				ping(t, l.cts[a], addr(l.cts[b].Addr), 56, false)
			}
		}
	}
	return l
}

// want fails the test unless every named container saw n frames.
func want(t *testing.T, what string, seen map[string]int, n int) {
	t.Helper()
	for name, got := range seen {
		if got != n {
			t.Errorf("%s: %s saw %d frames, want %d", what, name, got, n)
		}
	}
}

// spoofMAC is the attack of issue 9: attacker sends frames with the victim's
// source MAC. The victim's host must never learn the MAC on its OVS side, and
// its own traffic to the victim, sent while the attack goes on, must never reach
// the attacker.
func (l *l2Lab) spoofMAC(t *testing.T, attacker, victim, witness string) {
	a, v, w := l.cts[attacker], l.cts[victim], l.cts[witness]
	vmac, amac := macOf(t, v), macOf(t, a)
	spoof := ether(broadcastMAC, vmac, etherTest, []byte("spoofed"))
	fdb := l.watchFDB(victim)
	seen := countSeen(t, "ether proto 0x9000", func() { sendFrames(t, a, 10, spoof) }, v, w)
	want(t, "frames with the victim's MAC", seen, 0)
	seen = countSeen(t, "ether proto 0x9000", func() {
		sendFrames(t, a, 10, ether(broadcastMAC, amac, etherTest, []byte("own mac")))
	}, v, w)
	want(t, "frames with the attacker's own MAC (control)", seen, 10)

	// The victim answers its host's pings, which moves the MAC back to its own
	// port: keep spoofing while the host pings.
	got := countSeen(t, "icmp and dst host "+addr(v.Addr).String(), func() {
		sent := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: see sendFrames
			sent <- sendFromNS(a.NS, 300, [][]byte{spoof})
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := l.host(victim).Run(ctx, "ping", "-c", "10", "-i", "0.2", "-W", "1", addr(v.Addr).String())
		if err != nil {
			t.Errorf("%s cannot ping its own container during the spoof: %v\n%s", victim, err, out)
		}
		if err := <-sent; err != nil {
			t.Errorf("spoof from %s: %v", a.Name, err)
		}
	}, a)
	want(t, "the victim host's pings to its container, at the attacker", got, 0)
	moves := fdb.moves(vmac)
	if wrong := len(moves) - strings.Count(strings.Join(moves, " ")+" ", v.HostVeth+" "); wrong > 0 {
		t.Errorf("%s's docker0 learned the victim's MAC %s on another port than %s %d times: %q", victim, vmac, v.HostVeth, wrong, moves)
	}
}

func TestL2IdentityMeshGRE(t *testing.T) {
	t.Parallel()
	l := newL2Lab(t, "  encap: gre\n  mode: mesh\n")
	a, v, w := l.cts["docker1"], l.cts["docker2"], l.cts["docker3"]
	amac, vmac := macOf(t, a), macOf(t, v)

	t.Run("a container cannot take another host's container's MAC", func(t *testing.T) {
		l.spoofMAC(t, "docker1", "docker2", "docker3")
	})

	t.Run("a frame from a tunnel with a local container's MAC is dropped", func(t *testing.T) {
		toHost2 := l.plan("docker1").OVS.Tunnels[0]
		if toHost2.Peer != "docker2" {
			t.Fatalf("tunnel %s goes to %s", toHost2.Name, toHost2.Peer)
		}
		fresh := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x77}
		for _, tc := range []struct {
			src  net.HardwareAddr
			want int
		}{{vmac, 0}, {fresh, 1}} {
			seen := countSeen(t, "ether proto 0x9000 and ether src "+tc.src.String(), func() {
				l.ofctl("docker1", "packet-out", "br0", fmt.Sprintf("in_port=LOCAL packet=%s actions=output:%d",
					hexFrame(ether(broadcastMAC, tc.src, etherTest, []byte("injected"))), toHost2.OFPort))
			}, v)
			want(t, "frame injected into host 1's tunnel from "+tc.src.String(), seen, tc.want)
		}
		if port := l.fdbPort("docker2", vmac); port != v.HostVeth {
			t.Errorf("docker2's docker0 has %s on port %q, want %q", vmac, port, v.HostVeth)
		}
	})

	t.Run("tagged frames never leave the host", func(t *testing.T) {
		spoofed := l.plan("docker2").Docker.FixedCIDR.Addr().Next().Next().Next().Next().Next()
		bcast := netip.MustParseAddr("172.17.255.255")
		double := ether(broadcastMAC, amac, etherIPv4, ipv4UDP(spoofed, bcast), [2]uint16{etherQinQ, 5}, [2]uint16{etherDot1Q, 7})
		single := ether(broadcastMAC, amac, etherIPv4, ipv4UDP(addr(a.Addr), bcast), [2]uint16{etherDot1Q, 7})
		seen := countSeen(t, "ether src "+amac.String(), func() { sendFrames(t, a, 5, double, single) }, v, w)
		want(t, "802.1ad+802.1Q and 802.1Q frames", seen, 0)
		seen = countSeen(t, "udp and ether src "+amac.String(), func() {
			sendFrames(t, a, 5, ether(broadcastMAC, amac, etherIPv4, ipv4UDP(addr(a.Addr), bcast)))
		}, v, w)
		want(t, "the same datagram untagged (control)", seen, 5)
	})

	t.Run("IPv6 router advertisements and redirects stay on their host", func(t *testing.T) {
		ll := linkLocal(amac)
		for _, tc := range []struct {
			typ  byte
			want int
		}{{134, 0}, {137, 0}, {128, 5}} {
			f := ether(allNodes, amac, etherIPv6, icmp6(ll, tc.typ))
			filter := fmt.Sprintf("icmp6 and ip6[40] == %d and ether src %s", tc.typ, amac)
			seen := countSeen(t, filter, func() { sendFrames(t, a, 5, f) }, v, w)
			want(t, fmt.Sprintf("ICMPv6 type %d from a container", tc.typ), seen, tc.want)
			toHost3 := l.plan("docker1").OVS.Tunnels[1]
			seen = countSeen(t, filter, func() {
				l.ofctl("docker1", "packet-out", "br0", fmt.Sprintf("in_port=LOCAL packet=%s actions=output:%d", hexFrame(f), toHost3.OFPort))
			}, w)
			want(t, fmt.Sprintf("ICMPv6 type %d from a tunnel", tc.typ), seen, min(tc.want, 1))
		}
	})

	t.Run("IPv6 link-local traffic crosses hosts, MAC-checked", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		dst := linkLocal(vmac).String() + "%eth0"
		var err error
		var out string
		for try := 0; try < 3; try++ { // the first try may wait for neighbour discovery
			if out, err = a.Run(ctx, "ping", "-6", "-c", "1", "-W", "2", dst); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s cannot ping %s's link-local address %s: %v\n%s", a.Name, v.Name, dst, err, out)
		}
	})

	t.Run("unicast no peer owns stays on the host", func(t *testing.T) {
		nobody := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
		unused := l.plan("docker1").Docker.FixedCIDR.Addr().Next().Next().Next().Next().Next().Next().Next()
		frames := [][]byte{
			ether(nobody, amac, etherIPv4, ipv4UDP(addr(a.Addr), unused)),
			ether(nobody, amac, etherIPv4, ipv4UDP(addr(a.Addr), netip.MustParseAddr("10.9.9.9"))),
			ether(nobody, amac, etherTest, []byte("to nobody")),
		}
		seen := countSeen(t, "ether dst "+nobody.String(), func() { sendFrames(t, a, 10, frames...) }, v, w)
		want(t, "unicast to a MAC nobody learned", seen, 0)
		seen = countSeen(t, "ether proto 0x9000 and ether dst "+vmac.String(), func() {
			sendFrames(t, a, 10, ether(vmac, amac, etherTest, []byte("to the victim")))
		}, v, w)
		if seen[v.Name] != 10 || seen[w.Name] != 0 {
			t.Errorf("non-IP unicast to %s's MAC: seen %v, want 10 there and 0 elsewhere", v.Name, seen)
		}
	})

	t.Run("ARP for the own gateway stays on the host, gratuitous ARP reaches every peer", func(t *testing.T) {
		gw := l.plan("docker1").Docker.Address.Addr()
		me := addr(a.Addr)
		zero := net.HardwareAddr{0, 0, 0, 0, 0, 0}
		filter := "arp and ether src " + amac.String()
		seen := countSeen(t, filter, func() {
			sendFrames(t, a, 5, ether(broadcastMAC, amac, etherARP, arpPayload(1, amac, me, zero, gw)))
		}, v, w)
		want(t, "ARP requests for docker1's docker0 address", seen, 0)
		seen = countSeen(t, filter, func() {
			sendFrames(t, a, 5, ether(broadcastMAC, amac, etherARP, arpPayload(1, amac, me, zero, me)))
		}, v, w)
		want(t, "gratuitous ARP", seen, 5)
		ping(t, a, gw, 56, false)
	})

	t.Run("learned MACs are not drift: a second pass changes nothing", func(t *testing.T) {
		table := fmt.Sprintf("table=%d", topology.TableMACs)
		learned := l.ofctl("docker1", "dump-flows", "br0", table)
		if !strings.Contains(learned, "cookie=0x6f766d6163") {
			t.Fatalf("no learned MAC flows on docker1:\n%s", learned)
		}
		for _, h := range []string{"docker1", "docker2", "docker3"} {
			out, err := l.apply(h)
			if err != nil || !strings.Contains(out, "nothing to change") {
				t.Errorf("second apply on %s: %v\n%s", h, err, out)
			}
		}
		if after := l.ofctl("docker1", "dump-flows", "br0", table); strings.Count(after, "cookie=") < strings.Count(learned, "cookie=") {
			t.Errorf("learned flows went away after a pass:\nbefore:\n%s\nafter:\n%s", learned, after)
		}
	})

	t.Run("every pair still pings, full MTU included", func(t *testing.T) {
		mtu := l.topo.Network.MTU
		for _, x := range []*lab.Container{a, v, w} {
			for _, y := range []*lab.Container{a, v, w} {
				if x != y {
					ping(t, x, addr(y.Addr), mtu-28, true)
				}
			}
		}
	})
}

func TestL2IdentityTree(t *testing.T) {
	t.Parallel()
	// Three hosts, every pair at cost 1: a star around docker1, so frames
	// between docker2 and docker3 are relayed by docker1's table.
	l := newL2Lab(t, "  encap: gre\n  mode: tree\n")
	t.Run("a container cannot take another host's container's MAC", func(t *testing.T) {
		l.spoofMAC(t, "docker2", "docker3", "docker1")
	})
	t.Run("unicast to the host's own slice stays on the host", func(t *testing.T) {
		a := l.cts["docker2"]
		amac := macOf(t, a)
		nobody := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x43}
		unused := l.plan("docker2").Docker.FixedCIDR.Addr().Next().Next().Next().Next().Next().Next().Next()
		seen := countSeen(t, "ether dst "+nobody.String(), func() {
			sendFrames(t, a, 10, ether(nobody, amac, etherIPv4, ipv4UDP(addr(a.Addr), unused)))
		}, l.cts["docker1"], l.cts["docker3"])
		want(t, "unicast IPv4 to an unused address of the own slice", seen, 0)
	})
}

// TestL2IdentitySTP is the MAC spoof in stp mode (RSTP, for its convergence in
// seconds), where NORMAL learns MACs: the victim's MAC still never moves to the
// OVS side of its host's docker0, and its host's traffic never reaches the attacker.
func TestL2IdentitySTP(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n  mode: stp\n  rstp: true\n", 3))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}
	stpConverge(t, c, hosts, "rstp/show", "Forwarding", "Discarding", 60*time.Second)
	l := &l2Lab{cluster: c, cts: map[string]*lab.Container{}}
	for _, h := range hosts {
		l.cts[h] = c.container(h, 2)
	}
	pingAll(t, hosts, l.cts)
	t.Run("a container cannot take another host's container's MAC", func(t *testing.T) {
		l.spoofMAC(t, "docker1", "docker2", "docker3")
	})
}
