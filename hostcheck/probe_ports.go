package hostcheck

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// ProbeLinks lists this host's kernel tunnel devices (vxlan and the GRE kinds)
// through h, marking those that are ports of Open vSwitch's kernel datapath.
func ProbeLinks(h *netlink.Handle) ([]KernelLink, error) {
	links, err := retryDump(func() ([]netlink.Link, error) { return h.LinkList() })
	if err != nil {
		return nil, fmt.Errorf("list this host's interfaces: %w", err)
	}
	kind := map[int]string{}
	for _, l := range links {
		kind[l.Attrs().Index] = l.Type()
	}
	var out []KernelLink
	for _, l := range links {
		a := l.Attrs()
		kl := KernelLink{Name: a.Name, Kind: l.Type(), Up: a.Flags&net.FlagUp != 0,
			OVS: a.MasterIndex != 0 && kind[a.MasterIndex] == "openvswitch"}
		switch d := l.(type) {
		case *netlink.Vxlan:
			kl.VXLANPort = d.Port
		case *netlink.Gretap:
			kl.Local, kl.Remote = ipAddr(d.Local), ipAddr(d.Remote)
		case *netlink.Gretun:
			kl.Local, kl.Remote = ipAddr(d.Local), ipAddr(d.Remote)
		default:
			continue
		}
		out = append(out, kl)
	}
	return out, nil
}

// ipAddr converts a netlink address; unset and unspecified are invalid.
func ipAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || a.Unmap().IsUnspecified() {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ProbeSockets returns the UDP sockets of this network namespace bound to port
// (/proc/net/udp and udp6), each with the process that holds it if one of this
// PID namespace does.
func ProbeSockets(port int) ([]UDPSocket, error) {
	var socks []UDPSocket
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(name)
		if os.IsNotExist(err) {
			continue // no IPv6
		}
		if err != nil {
			return nil, fmt.Errorf("read the UDP sockets: %w", err)
		}
		s, err := ParseProcNetUDP(f, port)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read the UDP sockets in %s: %w", name, err)
		}
		socks = append(socks, s...)
	}
	if len(socks) == 0 {
		return nil, nil
	}
	holders := socketHolders()
	for i := range socks {
		if h, ok := holders[socks[i].Inode]; ok {
			socks[i].PID, socks[i].Comm = h.pid, h.comm
		}
	}
	return socks, nil
}

// ParseProcNetUDP returns the sockets of a /proc/net/udp or udp6 table whose
// local port is port.
func ParseProcNetUDP(r io.Reader, port int) ([]UDPSocket, error) {
	var out []UDPSocket
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[0] == "sl" {
			continue
		}
		ap, err := parseHexAddrPort(fields[1])
		if err != nil {
			return nil, fmt.Errorf("local address %q: %w", fields[1], err)
		}
		if int(ap.Port()) != port {
			continue
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("inode %q: %w", fields[9], err)
		}
		out = append(out, UDPSocket{Local: ap, Inode: inode})
	}
	return out, sc.Err()
}

// parseHexAddrPort reads "0100007F:12B5": the address as 32-bit words in host
// byte order (little-endian here), the port in hex.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	ahex, phex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port")
	}
	raw, err := hex.DecodeString(ahex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address")
	}
	for w := 0; w < len(raw); w += 4 {
		binary.BigEndian.PutUint32(raw[w:], binary.LittleEndian.Uint32(raw[w:]))
	}
	port, err := strconv.ParseUint(phex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port")
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

type holder struct {
	pid  int
	comm string
}

// socketHolders maps socket inodes to a process holding them, from
// /proc/*/fd (processes that vanish meanwhile are skipped).
func socketHolders() map[uint64]holder {
	out := map[uint64]holder{}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(target, "socket:[") {
			continue
		}
		inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
		if err != nil {
			continue
		}
		if _, seen := out[inode]; seen {
			continue
		}
		dir := filepath.Dir(filepath.Dir(fd))
		pid, _ := strconv.Atoi(filepath.Base(dir))
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		out[inode] = holder{pid: pid, comm: strings.TrimSpace(string(comm))}
	}
	return out
}
