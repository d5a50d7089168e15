package openflow

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// cookieHex is ovsmesh's cookie as ovs-ofctl prints it.
var cookieHex = "0x" + strconv.FormatUint(topology.FlowCookie, 16)

// ourCookieMatch selects the flows with ovsmesh's cookie, in every table, in
// ovs-ofctl's flow syntax.
var ourCookieMatch = "cookie=" + cookieHex + "/-1"

// dumpEntries canonicalizes the output of
//
//	ovs-ofctl --no-names dump-flows BRIDGE cookie=0x6f76736d657368/-1
//
// one entry per flow line, in the form canonical gives wanted flows. Such a line
// reads, as ovs-vswitchd 3.1 prints it:
//
//	cookie=0x6f76736d657368, duration=3.5s, table=1, n_packets=0, n_bytes=0, priority=100,arp,arp_tpa=172.17.0.2 actions=output:32770
//
// The statistics (duration, n_packets, n_bytes, idle_age, hard_age) and the
// "OFPST_FLOW reply" headers are ignored. Other properties (idle_timeout=30,
// send_flow_rem...) come before the match, which leaves out the default priority
// 32768. The form of --no-stats (no statistics, and "table=0, " left out) reads
// the same.
//
// Nothing is dropped silently: a property or match field that canonical never
// writes stays in the identity, so that flow equals no wanted one and Apply
// replaces it, and a line it cannot read at all becomes an entry whose identity
// is the line itself.
func dumpEntries(out []byte) []entry {
	s := string(out)
	entries := make([]entry, 0, strings.Count(s, "\n")+1)
	var p lineParser
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "OFPST_FLOW reply") || strings.HasPrefix(line, "NXST_FLOW reply") {
			continue
		}
		entries = append(entries, p.parse(line))
	}
	return entries
}

// lineParser canonicalizes dump lines; its buffers are reused from line to line.
type lineParser struct {
	fields []string
	buf    []byte
}

// parse canonicalizes one flow line of a dump (see dumpEntries).
func (p *lineParser) parse(line string) entry {
	head, actions, ok := strings.Cut(line, " actions=")
	if !ok || !strings.HasPrefix(head, "cookie=") {
		return unreadable(line)
	}
	// The match is the last space-separated word of head, unless that word
	// ends with a comma: then it is a property and the match is empty.
	match := ""
	if i := strings.LastIndexByte(head, ' '); i >= 0 && !strings.HasSuffix(head, ",") {
		head, match = head[:i], head[i+1:]
	}
	table, priority, proto, inPort := "0", "32768", "", ""
	p.fields = p.fields[:0]
	for word := range strings.FieldsSeq(head) {
		kv := strings.TrimSuffix(word, ",")
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "cookie":
			if v != cookieHex {
				p.fields = append(p.fields, kv)
			}
		case "duration", "n_packets", "n_bytes", "idle_age", "hard_age":
			// statistics
		case "table":
			table = v
		default:
			// idle_timeout=, hard_timeout=, importance=, flags such as
			// send_flow_rem: never in a flow canonical writes.
			p.fields = append(p.fields, kv)
		}
	}
	for f := range strings.SplitSeq(match, ",") {
		switch {
		case f == "":
		case strings.HasPrefix(f, "priority="):
			priority = f[len("priority="):]
		case (f == "ip" || f == "arp" || f == "ipv6" || f == "icmp6") && proto == "":
			proto = f
		case strings.HasPrefix(f, "in_port=") && inPort == "":
			inPort = f[len("in_port="):]
		default:
			p.fields = append(p.fields, normField(f))
		}
	}
	slices.Sort(p.fields)

	b := append(p.buf[:0], "table="...)
	b = append(b, table...)
	b = append(b, ",priority="...)
	b = append(b, priority...)
	if proto != "" {
		b = append(b, ',')
		b = append(b, proto...)
	}
	if inPort != "" {
		b = append(b, ",in_port="...)
		b = append(b, inPort...)
	}
	for _, f := range p.fields {
		b = append(b, ',')
		b = append(b, f...)
	}
	idLen := len(b)
	b = append(b, ",actions="...)
	b = appendActions(b, actions)
	p.buf = b
	text := string(b)
	return entry{id: text[:idLen], text: text, match: strictMatch(table, match)}
}

// strictMatch is the table and the dumped match (priority included, unless the
// default) in ovs-ofctl's syntax, which ovs-ofctl reads back, for a strict
// delete. A flow whose match is empty has its flags (reset_counts...) where the
// match would be: they are left out, a delete takes none.
func strictMatch(table, match string) string {
	b := "table=" + table
	for f := range strings.SplitSeq(match, ",") {
		if f != "" && !flowFlags[f] {
			b += "," + f
		}
	}
	return b
}

// flowFlags are the flags ovs-ofctl prints among a flow's properties.
var flowFlags = map[string]bool{"send_flow_rem": true, "check_overlap": true, "reset_counts": true,
	"no_packet_counts": true, "no_byte_counts": true}

// unreadable is the entry of a dump line dumpEntries cannot read: its identity
// is no flow's, so the flow (if it is one) is replaced.
func unreadable(line string) entry {
	s := "unreadable(" + line + ")"
	return entry{id: s, text: s}
}

// appendActions appends a dump's action list with normAction applied to each
// top-level action (commas inside parentheses, as in resubmit(,1), separate
// nothing).
func appendActions(b []byte, actions string) []byte {
	if !strings.Contains(actions, "output:") && !strings.Contains(actions, "local") && !strings.Contains(actions, "normal") {
		return append(b, actions...) // nothing to normalize (the usual case)
	}
	depth, start := 0, 0
	for i := 0; i <= len(actions); i++ {
		if i < len(actions) {
			switch actions[i] {
			case '(', '[', '{':
				depth++
				continue
			case ')', ']', '}':
				depth--
				continue
			case ',':
				if depth != 0 {
					continue
				}
			default:
				continue
			}
		}
		if start > 0 {
			b = append(b, ',')
		}
		b = append(b, normAction(actions[start:i])...)
		start = i + 1
	}
	return b
}
