package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// FirewallTable is the name of the nftables table (family inet) that ovsmesh
// owns on every host. ovsmesh writes nothing outside it: no other table, chain or
// rule is read for change or touched.
const FirewallTable = "ovsmesh"

// FirewallPriority is the priority of ovsmesh's base chains: before the filter
// chains of other tables (0), so that the drops hold whatever those accept (a
// drop is final across base chains; an accept is not).
const FirewallPriority = -10

// Firewall is the host firewall ovsmesh keeps in its own nftables table: packets
// from the containers that carry a tunnel protocol (GRE, or UDP to the VXLAN
// port) are dropped, so that no container can send tunnel packets of its own.
//
// Why: a container reaches the peers' underlay addresses through its host's NAT
// (Docker's MASQUERADE), and a packet it encapsulates itself arrives from the
// host's address, the remote_ip a peer's tunnel port accepts: the peer takes its
// inner frame as one this host sent, past every check this host's flow table
// makes. Sent to the host's own address, it reaches the host's own tunnel
// endpoint (the kernel datapath's gre_sys or vxlan_sys device) the same way.
type Firewall struct {
	Table  string          `json:"table"` // family inet
	Chains []FirewallChain `json:"chains"`
}

// FirewallChain is one base chain of the table: type filter, policy accept.
type FirewallChain struct {
	Name     string         `json:"name"`
	Hook     string         `json:"hook"` // "input" or "forward"
	Priority int            `json:"priority"`
	Rules    []FirewallRule `json:"rules"`
}

// FirewallRule drops the packets it matches; the zero value of a field matches
// anything.
type FirewallRule struct {
	InIface  string       `json:"iifname,omitempty"`
	NotOut   string       `json:"oifname_not,omitempty"` // the output interface is not this one
	Source   netip.Prefix `json:"saddr,omitzero"`        // IPv4 source address within
	Protocol string       `json:"l4proto"`               // "gre" or "udp"
	DstPort  int          `json:"dport,omitempty"`       // udp only
}

// Firewall protocols.
const (
	ProtoGRE = "gre"
	ProtoUDP = "udp"
)

// String writes the rule in nft's syntax, e.g.
// `iifname "docker0" meta l4proto gre counter drop`.
func (r FirewallRule) String() string {
	var b []string
	if r.InIface != "" {
		b = append(b, fmt.Sprintf("iifname %q", r.InIface))
	}
	if r.NotOut != "" {
		b = append(b, fmt.Sprintf("oifname != %q", r.NotOut))
	}
	if r.Source.IsValid() {
		b = append(b, "ip saddr "+r.Source.String())
	}
	if r.DstPort != 0 {
		b = append(b, fmt.Sprintf("%s dport %d", r.Protocol, r.DstPort))
	} else {
		b = append(b, "meta l4proto "+r.Protocol)
	}
	return strings.Join(append(b, "counter", "drop"), " ")
}

// Lines writes the table as nft would list it, one line per chain and rule:
// "chain forward hook forward priority -10" then "  <rule>".
func (f Firewall) Lines() []string {
	var out []string
	for _, c := range f.Chains {
		out = append(out, fmt.Sprintf("chain %s hook %s priority %d policy accept", c.Name, c.Hook, c.Priority))
		for _, r := range c.Rules {
			out = append(out, "  "+r.String())
		}
	}
	return out
}

// Equal reports whether two firewalls are the same.
func (f Firewall) Equal(o Firewall) bool {
	return f.Table == o.Table && slices.EqualFunc(f.Chains, o.Chains, func(a, b FirewallChain) bool {
		return a.Name == b.Name && a.Hook == b.Hook && a.Priority == b.Priority && slices.Equal(a.Rules, b.Rules)
	})
}

// firewall returns the host firewall of a host whose containers are on the
// Linux bridge dockerBridge and in subnet, in a network whose VXLAN port is
// vxlanPort (Docker's 4789 by default, also with GRE: the drop is then kept
// across a change of encap, and dropping UDP to it costs a GRE mesh nothing).
//
// Both the bridge (every packet a container routes through its host arrives
// from it, whatever its source address) and the subnet (a container's address
// wherever it comes from) are matched. Two hooks: input (the host's own tunnel
// endpoint) and forward (everything the host would route on, NAT included,
// which Docker's MASQUERADE applies after forward). In forward, frames that stay
// on the Docker bridge are let through: with br_netfilter, bridged frames from
// one container to another cross the forward hook too, and a tunnel packet
// carried inside ovsmesh's own tunnels reaches no tunnel endpoint (a frame to a
// host's own MAC is routed there, through that host's hooks).
func firewall(dockerBridge string, subnet netip.Prefix, vxlanPort int) Firewall {
	match := func(notOut string) []FirewallRule {
		var rules []FirewallRule
		for _, from := range []FirewallRule{{InIface: dockerBridge}, {Source: subnet}} {
			from.NotOut = notOut
			gre, udp := from, from
			gre.Protocol = ProtoGRE
			udp.Protocol, udp.DstPort = ProtoUDP, vxlanPort
			rules = append(rules, gre, udp)
		}
		return rules
	}
	return Firewall{Table: FirewallTable, Chains: []FirewallChain{
		{Name: "input", Hook: "input", Priority: FirewallPriority, Rules: match("")},
		{Name: "forward", Hook: "forward", Priority: FirewallPriority, Rules: match(dockerBridge)},
	}}
}
