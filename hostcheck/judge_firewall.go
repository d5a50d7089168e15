package hostcheck

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// FirewallPlan is the tunnel traffic this host must receive.
type FirewallPlan struct {
	Encap    string // "gre" or "vxlan"
	Port     int    // the VXLAN UDP port
	Local    netip.Addr
	Peers    []Peer
	Datapath string // "system" or "netdev"
}

// Peer is one peer of this host.
type Peer struct {
	Name string
	Addr netip.Addr
}

// FirewallFacts is what reading the host's nftables ruleset found.
type FirewallFacts struct {
	NoNft  bool   // nft is not installed
	Err    string // nft is there but the ruleset could not be read
	Chains []NftChain
}

// finding is one chain's rule (or policy) that drops a peer's tunnel packets.
type finding struct {
	chain   chainID
	handle  int    // 0: the chain's policy
	verdict string // "drop" or "reject"
	why     string // "" when sure, else why check is not
}

// ours reports whether a chain is in ovsmesh's own table: its rules drop tunnel
// packets from the containers only (see topology.Firewall), never the peers'.
func ours(c NftChain) bool { return c.Family == "inet" && c.Table == topology.FirewallTable }

// JudgeFirewall reports every input or forward chain rule, and every input
// chain policy, that would drop or reject the tunnels' packets from a peer.
// It is best effort: jumps are not followed.
func JudgeFirewall(p FirewallPlan, f FirewallFacts) []Item {
	subject := "nftables"
	switch {
	case f.NoNft:
		return []Item{{Check: "firewall", Subject: subject, Status: OK, Detail: "no nftables (nft is not installed)"}}
	case f.Err != "":
		return []Item{{Check: "firewall", Subject: subject, Status: Warning, Detail: "could not read the ruleset: " + f.Err,
			Fix: "run check as root, or read the ruleset yourself (nft list ruleset)"}}
	}
	var order []finding
	peersOf := map[finding][]Peer{}
	for _, peer := range p.Peers {
		pkt := Packet{Proto: "gre", Src: peer.Addr, Dst: p.Local}
		if p.Encap == "vxlan" {
			pkt.Proto, pkt.DPort = "udp", p.Port
		}
		for _, c := range f.Chains {
			if (c.Hook != "input" && c.Hook != "forward") || !familySees(c.Family, peer.Addr) || ours(c) {
				continue
			}
			fd, ok := evalChain(c, pkt)
			if !ok {
				continue
			}
			if _, seen := peersOf[fd]; !seen {
				order = append(order, fd)
			}
			peersOf[fd] = append(peersOf[fd], peer)
		}
	}
	var items []Item
	for _, fd := range order {
		items = append(items, firewallItem(p, fd, peersOf[fd]))
	}
	if len(items) == 0 {
		items = append(items, Item{Check: "firewall", Subject: subject, Status: OK,
			Detail: fmt.Sprintf("no input or forward chain drops %s from the peers (best effort: jumps to other chains are not followed, iptables-legacy rules are not read)", traffic(p))})
	}
	return items
}

// evalChain walks c's rules in order for pkt and returns the rule, or the
// input policy, that would drop it.
func evalChain(c NftChain, pkt Packet) (finding, bool) {
	mayAccept := ""
	for _, r := range c.Rules {
		v, m, unknown := r.verdict(pkt)
		if m == no || v == "" {
			continue
		}
		if v == "jump" {
			mayAccept = fmt.Sprintf("rule handle %d before it jumps to a chain check does not follow, which may accept them", r.Handle)
			continue
		}
		if v == "accept" {
			if m == yes {
				return finding{}, false
			}
			mayAccept = fmt.Sprintf("rule handle %d before it may accept them", r.Handle)
			continue
		}
		fd := finding{chain: chainKey(c), handle: r.Handle, verdict: v, why: mayAccept}
		if m == maybe {
			fd.why = "it also matches on " + strings.Join(unknown, ", ") + ", which check cannot evaluate"
		}
		return fd, true
	}
	if c.Hook == "input" && c.Policy == "drop" {
		return finding{chain: chainKey(c), verdict: "drop", why: mayAccept}, true
	}
	return finding{}, false
}

// chainID names a chain (without its rules, so that findings can be map keys).
type chainID struct{ Family, Table, Name, Hook string }

func chainKey(c NftChain) chainID { return chainID{c.Family, c.Table, c.Name, c.Hook} }

func traffic(p FirewallPlan) string {
	if p.Encap == "vxlan" {
		return fmt.Sprintf("VXLAN (UDP port %d)", p.Port)
	}
	return "GRE (IP protocol 47)"
}

func firewallItem(p FirewallPlan, fd finding, peers []Peer) Item {
	c := fd.chain
	var names, addrs []string
	for _, peer := range peers {
		names = append(names, fmt.Sprintf("%s (%s)", peer.Name, peer.Addr))
		addrs = append(addrs, peer.Addr.String())
	}
	it := Item{Check: "firewall", Subject: fmt.Sprintf("nftables %s %s %s", c.Family, c.Table, c.Name), Status: Warning}
	what := fmt.Sprintf("rule handle %d %ss", fd.handle, fd.verdict)
	if fd.handle == 0 {
		what = "the chain's policy drops (no rule accepts them first)"
		it.Subject += " policy drop"
	} else {
		it.Subject += fmt.Sprintf(" rule %d", fd.handle)
	}
	sure := "sure: check understands every part of the rule"
	if fd.why != "" {
		sure = "not sure: " + fd.why
	}
	it.Detail = fmt.Sprintf("%s hook: %s %s from %s (%s); %s", c.Hook, what, traffic(p), strings.Join(names, ", "), sure, datapathNote(p.Datapath, c.Hook))
	accept := acceptMatch(p, peers[0].Addr.Is4(), addrs)
	if fd.handle == 0 {
		it.Fix = fmt.Sprintf("accept them: nft add rule %s %s %s %s accept", c.Family, c.Table, c.Name, accept)
	} else {
		it.Fix = fmt.Sprintf("accept them before it: nft insert rule %s %s %s position %d %s accept (see the rule with nft -a list chain %s %s %s)",
			c.Family, c.Table, c.Name, fd.handle, accept, c.Family, c.Table, c.Name)
	}
	return it
}

func acceptMatch(p FirewallPlan, v4 bool, addrs []string) string {
	fam := "ip6"
	if v4 {
		fam = "ip"
	}
	m := fmt.Sprintf("%s saddr { %s }", fam, strings.Join(addrs, ", "))
	if p.Encap == "vxlan" {
		return m + fmt.Sprintf(" udp dport %d", p.Port)
	}
	return m + " meta l4proto gre"
}

func datapathNote(datapath, hook string) string {
	if hook == "forward" {
		return "a forward chain sees tunnel packets only when this host routes them on, not those it receives itself"
	}
	if datapath == "netdev" {
		return "this topology's userspace datapath (netdev) takes tunnel packets before the kernel's firewall, so it bypasses this; the kernel datapath (system) would not"
	}
	return "the kernel datapath (system) receives tunnel packets through this hook: the tunnels would carry nothing from them"
}
