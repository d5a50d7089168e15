package ovsdb

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
)

// unset stands for an empty column or an absent map key in change lines.
const unset = "(unset)"

// updateLine renders one changed value: `update interface gre-docker2
// options:remote_ip 198.18.0.9 -> 198.18.0.2`.
func updateLine(table, name, column, old, new string) string {
	return "update " + table + " " + name + " " + column + " " + orUnset(old) + " -> " + orUnset(new)
}

func scalarDiff(table, name, column, old, new string) []string {
	if old == new {
		return nil
	}
	return []string{updateLine(table, name, column, old, new)}
}

// mapDiff returns one line per key whose value differs.
func mapDiff(table, name, column string, old, new map[string]string) []string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := new[k]; !ok {
			lines = append(lines, updateLine(table, name, column+":"+k, old[k], ""))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(new)) {
		if o, ok := old[k]; !ok || o != new[k] {
			lines = append(lines, updateLine(table, name, column+":"+k, o, new[k]))
		}
	}
	return lines
}

// createLine renders a new port: `create port gre-docker3 type=gre
// remote_ip=198.18.0.3 ofport_request=32771`.
func createLine(w portWant) string {
	return "create port " + w.Port.Name + createFields(w)
}

func createFields(w portWant) string {
	i := w.Iface
	var b strings.Builder
	b.WriteString(" type=" + i.Type)
	for _, k := range optionOrder(i.Options) {
		b.WriteString(" " + k + "=" + i.Options[k])
	}
	for _, k := range slices.Sorted(maps.Keys(i.BFD)) {
		b.WriteString(" bfd:" + k + "=" + i.BFD[k])
	}
	for _, k := range costKeys {
		if v, ok := w.Port.OtherConfig[k]; ok {
			b.WriteString(" " + k + "=" + v)
		}
	}
	if i.OfportRequest != nil {
		b.WriteString(" ofport_request=" + strconv.Itoa(*i.OfportRequest))
	}
	if i.MTURequest != nil {
		b.WriteString(" mtu_request=" + strconv.Itoa(*i.MTURequest))
	}
	return b.String()
}

// optionOrder puts the tunnel options people look for first.
func optionOrder(options map[string]string) []string {
	first := []string{"remote_ip", "key", "dst_port"}
	var keys []string
	for _, k := range first {
		if _, ok := options[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(options)) {
		if !slices.Contains(first, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// deleteLine renders an owned port that is no longer wanted.
func deleteLine(rows portRows) string {
	line := "delete port " + rows.Port.Name
	if i, ok := rows.home(); ok {
		line += " type=" + i.Type
		if ip, ok := i.Options["remote_ip"]; ok {
			line += " remote_ip=" + ip
		}
	}
	return line + " (no longer in the topology)"
}

func ifaceNames(ifaces []vswitchd.Interface) string {
	names := make([]string, len(ifaces))
	for i, x := range ifaces {
		names[i] = x.Name
	}
	return strings.Join(names, ",")
}

func intText(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func orUnset(s string) string {
	if s == "" {
		return unset
	}
	return s
}
