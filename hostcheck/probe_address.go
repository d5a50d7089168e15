package hostcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
)

// dumpTries bounds the retries of a netlink dump that the kernel interrupted
// because the table changed meanwhile.
const dumpTries = 5

// retryDump calls dump until it is not interrupted (at most dumpTries times).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for range dumpTries {
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}

// ProbeAddresses reads this host's IPv4 routes (main table) and interface
// addresses through h, and the daemon.json at path. It changes nothing.
func ProbeAddresses(h *netlink.Handle, daemonJSON string) (AddressFacts, error) {
	links, err := retryDump(func() ([]netlink.Link, error) { return h.LinkList() })
	if err != nil {
		return AddressFacts{}, fmt.Errorf("list this host's interfaces: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return AddressFacts{}, fmt.Errorf("list this host's routes: %w", err)
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return AddressFacts{}, fmt.Errorf("list this host's addresses: %w", err)
	}
	var f AddressFacts
	for _, r := range routes {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.Dst != nil {
			dst = ipNetPrefix(r.Dst)
		}
		via, _ := netip.AddrFromSlice(r.Gw)
		f.Routes = append(f.Routes, Route{Dst: dst, Dev: names[r.LinkIndex], Via: via.Unmap()})
	}
	for _, a := range addrs {
		f.Addrs = append(f.Addrs, IfAddr{Dev: names[a.LinkIndex], Addr: ipNetPrefix(a.IPNet)})
	}
	f.Daemon = ReadDaemonJSON(daemonJSON)
	return f, nil
}

func ipNetPrefix(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// ReadDaemonJSON reads the keys of Docker's daemon.json that decide addresses.
func ReadDaemonJSON(path string) DaemonJSON {
	d := DaemonJSON{Path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		d.Missing = true
		return d
	}
	if err != nil {
		d.Err = fmt.Sprintf("cannot read it: %v", err)
		return d
	}
	var doc struct {
		Bip       string `json:"bip"`
		Bridge    string `json:"bridge"`
		FixedCIDR string `json:"fixed-cidr"`
		MTU       int    `json:"mtu"`
		ICC       *bool  `json:"icc"`
		Pools     []struct {
			Base string `json:"base"`
		} `json:"default-address-pools"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		d.Err = fmt.Sprintf("not valid JSON: %v", err)
		return d
	}
	d.Bip, d.Bridge, d.FixedCIDR, d.MTU, d.ICC = doc.Bip, doc.Bridge, doc.FixedCIDR, doc.MTU, doc.ICC
	for _, p := range doc.Pools {
		d.Pools = append(d.Pools, p.Base)
	}
	return d
}
