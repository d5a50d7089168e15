package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Ethernet types of the frames the layer-2 tests build.
const (
	etherIPv4  = 0x0800
	etherARP   = 0x0806
	etherIPv6  = 0x86dd
	etherDot1Q = 0x8100
	etherQinQ  = 0x88a8
	etherTest  = 0x9000 // Ethernet configuration testing protocol (loopback): no IP at all
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// sendFrames writes each frame count times out of the container's eth0, through a
// raw socket opened inside the container's namespace.
func sendFrames(t *testing.T, ct *lab.Container, count int, frames ...[]byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread enters the container's namespace and is never unlocked:
		// Go ends it with this goroutine, so nothing else ever runs there.
		runtime.LockOSThread()
		errc <- sendFromNS(ct.NS, count, frames)
	}()
	if err := <-errc; err != nil {
		t.Fatalf("send frames from %s: %v", ct.Name, err)
	}
}

func sendFromNS(ns string, count int, frames [][]byte) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // sends only
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	for range count {
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond) // keep the order and the counters honest
		}
	}
	return nil
}

// macOf returns the MAC address of the container's eth0.
func macOf(t *testing.T, ct *lab.Container) net.HardwareAddr {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ct.Run(ctx, "cat", "/sys/class/net/eth0/address")
	if err != nil {
		t.Fatal(err)
	}
	mac, err := net.ParseMAC(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// ether builds an Ethernet frame; tags are VLAN headers (TPID, TCI) in order.
func ether(dst, src net.HardwareAddr, etherType uint16, payload []byte, tags ...[2]uint16) []byte {
	b := append(append([]byte{}, dst...), src...)
	for _, tag := range tags {
		b = binary.BigEndian.AppendUint16(b, tag[0])
		b = binary.BigEndian.AppendUint16(b, tag[1])
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	b = append(b, payload...)
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

// arpPayload is an ARP request (op 1) or reply (op 2) for IPv4 over Ethernet.
func arpPayload(op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	b := []byte{0, 1, 8, 0, 6, 4}
	b = binary.BigEndian.AppendUint16(b, op)
	s, d := spa.As4(), tpa.As4()
	b = append(append(append(b, sha...), s[:]...), tha...)
	return append(b, d[:]...)
}

// ipv4UDP is an IPv4 header and a short UDP datagram from src to dst.
func ipv4UDP(src, dst netip.Addr) []byte {
	udp := []byte{0x30, 0x39, 0x30, 0x39, 0, 16, 0, 0, 'o', 'v', 's', 'm', 'e', 's', 'h', '!'}
	ip := []byte{0x45, 0, 0, byte(20 + len(udp)), 0, 0, 0x40, 0, 64, 17, 0, 0}
	s, d := src.As4(), dst.As4()
	ip = append(append(ip, s[:]...), d[:]...)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return append(ip, udp...)
}

// icmp6 is an IPv6 packet from the link-local src to ff02::1 carrying an ICMPv6
// message of the given type (its body zeros: receivers may discard it, tcpdump
// still sees it).
func icmp6(src netip.Addr, typ byte) []byte {
	body := make([]byte, 24)
	body[0] = typ
	ip := []byte{0x60, 0, 0, 0, 0, byte(len(body)), 58, 255}
	s, d := src.As16(), netip.MustParseAddr("ff02::1").As16()
	ip = append(append(ip, s[:]...), d[:]...)
	return append(ip, body...)
}

// allNodes is the MAC of IPv6's all-nodes group ff02::1.
var allNodes = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}

// linkLocal is the EUI-64 link-local address of a MAC.
func linkLocal(mac net.HardwareAddr) netip.Addr {
	b := [16]byte{0xfe, 0x80}
	copy(b[8:], []byte{mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
	return netip.AddrFrom16(b)
}

// fdbMonitor records the FDB changes of a host's bridges (bridge monitor fdb).
type fdbMonitor struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan struct{}
}

// watchFDB starts recording host's FDB changes; moves stops it and returns the
// ports mac was learned on meanwhile, in order.
func (c *cluster) watchFDB(host string) *fdbMonitor {
	c.t.Helper()
	m := &fdbMonitor{done: make(chan struct{})}
	m.cmd = c.host(host).Command(context.Background(), "bridge", "monitor", "fdb")
	m.cmd.Stdout = &m.out
	if err := m.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	c.t.Cleanup(func() { m.stop() })
	time.Sleep(300 * time.Millisecond) // let it subscribe
	return m
}

func (m *fdbMonitor) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Kill() // by its pid
	<-m.done
}

// moves stops the monitor and returns the ports mac was (re)learned on.
func (m *fdbMonitor) moves(mac net.HardwareAddr) []string {
	m.stop()
	var ports []string
	for _, l := range strings.Split(m.out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == mac.String() && f[1] == "dev" {
			ports = append(ports, f[2])
		}
	}
	return ports
}

// fdbPort returns the port of docker0 on host that has learned mac ("" if none).
func (c *cluster) fdbPort(host string, mac net.HardwareAddr) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, "bridge", "fdb", "show", "br", lab.DockerBridge)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == mac.String() && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

// countSeen captures what each container receives matching filter while send
// runs, and returns how many frames each saw, by container name.
func countSeen(t *testing.T, filter string, send func(), cts ...*lab.Container) map[string]int {
	t.Helper()
	caps := make([]*capture, len(cts))
	for i, ct := range cts {
		caps[i] = startCapture(t, ct, filter)
	}
	send()
	time.Sleep(time.Second)
	seen := map[string]int{}
	for i, cp := range caps {
		seen[cts[i].Name] = len(cp.stop())
	}
	return seen
}

// hexFrame is a frame as ovs-ofctl packet-out takes it.
func hexFrame(b []byte) string { return fmt.Sprintf("%x", b) }

// learnedFlowCookie starts the cookie of every flow the MAC check learns, as
// ovs-ofctl prints it (the last 16 bits are the port).
var learnedFlowCookie = fmt.Sprintf("cookie=0x%x", topology.LearnedCookie(0)>>16)

// learnedFlow reports whether a dump-flows line is a flow ovs-vswitchd learned
// from traffic (a MAC and its port), not one ovsmesh wrote: tests that compare
// flow tables before and after leave them out, as ovsmesh does.
func learnedFlow(line string) bool { return strings.Contains(line, learnedFlowCookie) }
