package hostcheck

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Packet is one tunnel packet as the host's firewall sees it: GRE, or UDP to
// the VXLAN port, from a peer to this host.
type Packet struct {
	Proto    string // "gre" or "udp"
	Src, Dst netip.Addr
	DPort    int // udp only
}

// tri is the answer to "does this match the packet": yes, no, or check cannot tell.
type tri int

const (
	no tri = iota
	maybe
	yes
)

// NftChain is one base chain of an nftables ruleset with its rules in order.
type NftChain struct {
	Family, Table, Name, Hook, Policy string
	Rules                             []NftRule
}

// NftRule is one rule: its handle and expressions, as `nft -j` prints them.
type NftRule struct {
	Handle int
	Expr   []map[string]json.RawMessage
}

// ParseNftRuleset reads the base chains of `nft -j list ruleset` output, each
// with its rules. Regular chains (no hook) are left out: rules jumping to them
// are judged as "cannot tell".
func ParseNftRuleset(b []byte) ([]NftChain, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse nft's JSON: %w", err)
	}
	type key struct{ family, table, name string }
	var chains []NftChain
	index := map[key]int{}
	for _, obj := range doc.Nftables {
		if raw, ok := obj["chain"]; ok {
			var c struct{ Family, Table, Name, Hook, Policy string }
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("parse a chain: %w", err)
			}
			if c.Hook == "" {
				continue
			}
			index[key{c.Family, c.Table, c.Name}] = len(chains)
			chains = append(chains, NftChain{Family: c.Family, Table: c.Table, Name: c.Name, Hook: c.Hook, Policy: c.Policy})
		}
		if raw, ok := obj["rule"]; ok {
			var r struct {
				Family, Table, Chain string
				Handle               int
				Expr                 []map[string]json.RawMessage
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("parse a rule: %w", err)
			}
			if i, ok := index[key{r.Family, r.Table, r.Chain}]; ok {
				chains[i].Rules = append(chains[i].Rules, NftRule{Handle: r.Handle, Expr: r.Expr})
			}
		}
	}
	return chains, nil
}

// verdict returns the rule's verdict ("accept", "drop", "reject", "jump" for
// jump, goto and queue, which check does not follow, or "" for none), whether
// it matches p, and the keys of its matches that check cannot evaluate.
func (r NftRule) verdict(p Packet) (string, tri, []string) {
	m, verdict := yes, ""
	var unknown []string
	for _, e := range r.Expr {
		for k, raw := range e {
			switch k {
			case "accept", "drop", "reject":
				verdict = k
			case "jump", "goto", "queue":
				verdict = "jump" // to where check does not follow
			case "match":
				t, what := evalMatch(raw, p)
				if t == maybe {
					unknown = append(unknown, what)
				}
				m = min(m, t)
			}
		}
	}
	return verdict, m, unknown
}

// evalMatch evaluates one match expression against p; what names the key
// when the answer is maybe.
func evalMatch(raw json.RawMessage, p Packet) (tri, string) {
	var m struct {
		Op    string
		Left  map[string]json.RawMessage
		Right json.RawMessage
	}
	if json.Unmarshal(raw, &m) != nil {
		return maybe, "an expression"
	}
	t, what := evalLeft(m.Left, m.Right, p)
	if m.Op == "!=" && t != maybe {
		t = yes - t
	}
	if m.Op != "==" && m.Op != "!=" && m.Op != "in" {
		return maybe, what
	}
	return t, what
}

func evalLeft(left map[string]json.RawMessage, right json.RawMessage, p Packet) (tri, string) {
	var f struct{ Protocol, Field, Key string }
	if raw, ok := left["payload"]; ok {
		_ = json.Unmarshal(raw, &f)
	} else if raw, ok := left["meta"]; ok {
		_ = json.Unmarshal(raw, &f)
		f.Protocol, f.Field = "meta", f.Key
	} else {
		for k := range left {
			return maybe, k
		}
	}
	switch {
	case f.Protocol == "meta" && f.Field == "l4proto", f.Protocol == "ip" && f.Field == "protocol", f.Protocol == "ip6" && f.Field == "nexthdr":
		return matchValue(right, func(v any) tri { return protoIs(v, p.Proto) }), ""
	case (f.Protocol == "udp" || f.Protocol == "th") && f.Field == "dport":
		if p.Proto != "udp" {
			return no, "" // the protocol is part of the match
		}
		return matchValue(right, func(v any) tri { return portIs(v, p.DPort) }), ""
	case f.Protocol == "tcp" || f.Protocol == "sctp" || f.Protocol == "icmp" || f.Protocol == "icmpv6":
		return no, ""
	case f.Protocol == "udp" && p.Proto != "udp":
		return no, ""
	case (f.Protocol == "ip" || f.Protocol == "ip6") && f.Field == "saddr":
		return matchValue(right, func(v any) tri { return addrIn(v, p.Src) }), ""
	case (f.Protocol == "ip" || f.Protocol == "ip6") && f.Field == "daddr":
		return matchValue(right, func(v any) tri { return addrIn(v, p.Dst) }), ""
	}
	return maybe, f.Protocol + " " + f.Field
}

// matchValue applies one to right, a value or a set of values (yes if any is).
func matchValue(right json.RawMessage, one func(any) tri) tri {
	var v any
	if json.Unmarshal(right, &v) != nil {
		return maybe
	}
	var elems []any
	if m, ok := v.(map[string]any); ok && m["set"] != nil {
		elems, _ = m["set"].([]any)
	} else {
		elems = []any{v}
	}
	best := no
	for _, e := range elems {
		best = max(best, one(e))
	}
	return best
}

var protoNumbers = map[string]float64{"gre": 47, "udp": 17}

func protoIs(v any, proto string) tri {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "@") {
			return maybe // a named set
		}
		if x == proto || x == strconv.Itoa(int(protoNumbers[proto])) {
			return yes
		}
		return no
	case float64:
		if x == protoNumbers[proto] {
			return yes
		}
		return no
	}
	return maybe
}

func portIs(v any, port int) tri {
	switch x := v.(type) {
	case float64:
		return boolTri(int(x) == port)
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return boolTri(n == port)
		}
	case map[string]any:
		if r, ok := x["range"].([]any); ok && len(r) == 2 {
			lo, ok1 := r[0].(float64)
			hi, ok2 := r[1].(float64)
			if ok1 && ok2 {
				return boolTri(float64(port) >= lo && float64(port) <= hi)
			}
		}
	}
	return maybe
}

func addrIn(v any, a netip.Addr) tri {
	switch x := v.(type) {
	case string:
		if b, err := netip.ParseAddr(x); err == nil {
			return boolTri(b == a)
		}
	case map[string]any:
		if pm, ok := x["prefix"].(map[string]any); ok {
			s, _ := pm["addr"].(string)
			n, _ := pm["len"].(float64)
			if b, err := netip.ParseAddr(s); err == nil {
				return boolTri(netip.PrefixFrom(b, int(n)).Masked().Contains(a))
			}
		}
		if r, ok := x["range"].([]any); ok && len(r) == 2 {
			lo, err1 := netip.ParseAddr(fmt.Sprint(r[0]))
			hi, err2 := netip.ParseAddr(fmt.Sprint(r[1]))
			if err1 == nil && err2 == nil {
				return boolTri(lo.Compare(a) <= 0 && a.Compare(hi) <= 0)
			}
		}
	}
	return maybe
}

func boolTri(b bool) tri {
	if b {
		return yes
	}
	return no
}

// familySees reports whether a chain of family sees packets of a's IP version.
func familySees(family string, a netip.Addr) bool {
	if a.Is4() {
		return slices.Contains([]string{"ip", "inet"}, family)
	}
	return slices.Contains([]string{"ip6", "inet"}, family)
}
