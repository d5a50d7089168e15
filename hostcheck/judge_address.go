package hostcheck

import (
	"fmt"
	"net/netip"
	"strings"
)

// AddressPlan is what the topology gives this host's containers.
type AddressPlan struct {
	Subnet       netip.Prefix // the shared container subnet
	Slice        netip.Prefix // this host's slice (Docker's fixed-cidr)
	DockerBridge string       // the Linux bridge ovsmesh manages (docker0)
	DockerAddr   netip.Prefix // its planned address, e.g. 172.17.0.1/16
}

// Route is one route of this host's main table.
type Route struct {
	Dst netip.Prefix
	Dev string // "" when the route has no device
	Via netip.Addr
}

// IfAddr is one address of one interface.
type IfAddr struct {
	Dev  string
	Addr netip.Prefix
}

// DaemonJSON is what Docker's daemon.json holds of the keys that decide
// addresses. Missing: no file (Docker's defaults).
type DaemonJSON struct {
	Path      string
	Missing   bool
	Err       string // the file could not be read or parsed
	Bip       string
	Bridge    string
	FixedCIDR string
	MTU       int
	ICC       *bool    // nil: not set (Docker's default, true)
	Pools     []string // default-address-pools[].base, in order
}

// AddressFacts is what probing this host's addresses found.
type AddressFacts struct {
	Routes []Route
	Addrs  []IfAddr
	Daemon DaemonJSON
}

// JudgeAddresses reports every route, interface address and daemon.json key
// that clashes with the container subnet, or one ok item per kind of fact.
func JudgeAddresses(p AddressPlan, f AddressFacts) []Item {
	var items []Item
	items = append(items, judgeRoutes(p, f.Routes)...)
	items = append(items, judgeIfAddrs(p, f.Addrs)...)
	return append(items, judgeDaemonJSON(p, f.Daemon)...)
}

func judgeRoutes(p AddressPlan, routes []Route) []Item {
	var items []Item
	for _, r := range routes {
		if r.Dst.Bits() == 0 || r.Dev == p.DockerBridge || !r.Dst.Overlaps(p.Subnet) {
			continue // the default route, or ovsmesh's own route to docker0
		}
		it := Item{Check: "address", Subject: "route " + routeString(r)}
		if r.Dst.Bits() >= p.Subnet.Bits() {
			it.Status = Problem
			it.Detail = fmt.Sprintf("lies inside the container subnet %s: traffic to containers in %s would follow it instead of reaching %s",
				p.Subnet, r.Dst, p.DockerBridge)
			it.Fix = fmt.Sprintf("delete the route (ip route del %s), or choose a network.subnet that does not contain %s", routeString(r), r.Dst)
		} else {
			it.Status = Warning
			it.Detail = fmt.Sprintf("contains the container subnet %s: the containers would hide those addresses of the network behind it",
				p.Subnet)
			it.Fix = fmt.Sprintf("make sure nothing this host must reach uses %s, or choose a network.subnet outside %s", p.Subnet, r.Dst)
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		items = append(items, Item{Check: "address", Subject: "routes", Status: OK,
			Detail: fmt.Sprintf("no route of this host overlaps the container subnet %s (besides %s's own)", p.Subnet, p.DockerBridge)})
	}
	return items
}

func routeString(r Route) string {
	s := r.Dst.String()
	if r.Via.IsValid() {
		s += " via " + r.Via.String()
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	return s
}

func judgeIfAddrs(p AddressPlan, addrs []IfAddr) []Item {
	var items []Item
	for _, a := range addrs {
		if a.Dev == p.DockerBridge || !a.Addr.Overlaps(p.Subnet) {
			continue
		}
		items = append(items, Item{Check: "address", Subject: fmt.Sprintf("interface %s (%s)", a.Dev, a.Addr), Status: Problem,
			Detail: fmt.Sprintf("its address overlaps the container subnet %s: containers and this interface's network would share addresses", p.Subnet),
			Fix:    fmt.Sprintf("remove the address (ip addr del %s dev %s), or choose a network.subnet that does not overlap %s", a.Addr, a.Dev, a.Addr.Masked())})
	}
	if len(items) == 0 {
		items = append(items, Item{Check: "address", Subject: "interfaces", Status: OK,
			Detail: fmt.Sprintf("no interface address overlaps the container subnet %s (besides %s's)", p.Subnet, p.DockerBridge)})
	}
	return items
}

func judgeDaemonJSON(p AddressPlan, d DaemonJSON) []Item {
	subject := "daemon.json " + d.Path
	switch {
	case d.Missing:
		return []Item{{Check: "address", Subject: subject, Status: OK, Detail: "no such file: Docker's defaults apply until apply writes it"}}
	case d.Err != "":
		return []Item{{Check: "address", Subject: subject, Status: Problem, Detail: d.Err,
			Fix: "make it valid JSON (apply must read it to keep the keys it does not own)"}}
	}
	var items []Item
	if d.Bip != "" && !samePrefix(d.Bip, p.DockerAddr) {
		items = append(items, Item{Check: "address", Subject: subject + ": bip", Status: Problem,
			Detail: fmt.Sprintf("bip %q is not the planned %s address %s: Docker would give %s another address than ovsmesh",
				d.Bip, p.DockerBridge, p.DockerAddr, p.DockerBridge),
			Fix: fmt.Sprintf(`set "bip": %q (apply writes it for docker0 and removes it for any other bridge; restart Docker after apply)`, p.DockerAddr.String())})
	}
	for i, base := range d.Pools {
		pool, err := netip.ParsePrefix(base)
		if err != nil || !pool.Overlaps(p.Subnet) {
			continue
		}
		items = append(items, Item{Check: "address", Subject: fmt.Sprintf("%s: default-address-pools[%d]", subject, i), Status: Problem,
			Detail: fmt.Sprintf("base %s overlaps the container subnet %s: Docker would give its own networks addresses of the mesh's containers", pool, p.Subnet),
			Fix:    fmt.Sprintf("move the pool's base outside %s, or remove the entry", p.Subnet)})
	}
	if d.FixedCIDR != "" && !insidePrefix(d.FixedCIDR, p.Slice) {
		items = append(items, Item{Check: "address", Subject: subject + ": fixed-cidr", Status: Problem,
			Detail: fmt.Sprintf("fixed-cidr %q is not inside this host's slice %s: Docker would give containers addresses of another host", d.FixedCIDR, p.Slice),
			Fix:    fmt.Sprintf(`set "fixed-cidr": %q (apply writes it; restart Docker after apply)`, p.Slice.String())})
	}
	if len(items) == 0 {
		var found []string
		if d.Bip != "" {
			found = append(found, "bip equals the planned address")
		}
		detail := "no bip, default-address-pools or fixed-cidr conflicts with the plan"
		if len(found) > 0 {
			detail += "; " + strings.Join(found, "; ")
		}
		items = append(items, Item{Check: "address", Subject: subject, Status: OK, Detail: detail})
	}
	return items
}

// insidePrefix reports whether the prefix s lies inside slice.
func insidePrefix(s string, slice netip.Prefix) bool {
	q, err := netip.ParsePrefix(s)
	return err == nil && q.Bits() >= slice.Bits() && slice.Contains(q.Addr())
}

// samePrefix reports whether s is the address and prefix length of want.
func samePrefix(s string, want netip.Prefix) bool {
	q, err := netip.ParsePrefix(s)
	return err == nil && q == want
}
