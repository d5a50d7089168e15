package fleet

import (
	"fmt"
	"slices"
)

// A record that cannot be part of a valid view is skipped, with its reason,
// and never stops the rest of the fleet: the view is what remains.

// aloneCheck is a record's check on its own against the network settings in
// force, kept until the record or the settings change.
type aloneCheck struct {
	value, network string
	err            error
}

// records returns the usable host records, sorted by index, and the stale keys
// with their reasons. With network settings, each record is also checked on its
// own as validate would, and against the fleet's underlay family.
func (v *viewer) records(network map[string]any, netText string) ([]Record, []Stale) {
	cl := v.keys.claimsOf(v.kvs)
	var out []Record
	var stale []Stale
	v.registered = map[string]int64{}
	for k, e := range v.kvs {
		p := v.keys.parse(k)
		switch p.kind {
		case kindJunk:
			stale = append(stale, Stale{k, "not an ovsmesh key"})
		case kindOldRecord:
			stale = append(stale, Stale{k, "a record of the layout before per-host keys: the operator runs ovsmesh fleet migrate"})
		case kindAlive:
			if e.tooBig > 0 {
				stale = append(stale, Stale{k, fmt.Sprintf("a liveness value of %d bytes (at most %d)", e.tooBig, MaxRecordBytes)})
			}
		case kindRecord:
			r, err := v.record(p.host, k, e, cl, network, netText)
			if err != nil {
				stale = append(stale, Stale{k, err.Error()})
				continue
			}
			v.registered[r.Name] = cl.addr[r.Address].rev
			out = append(out, r)
		}
	}
	out, wrong := v.sameFamily(out)
	stale = append(stale, wrong...)
	slices.SortFunc(out, func(a, b Record) int { return a.Index - b.Index })
	slices.SortFunc(stale, func(a, b Stale) int { return cmpString(a.Key, b.Key) })
	return out, stale
}

// record parses and checks one record key.
func (v *viewer) record(host, key string, e kv, cl claims, network map[string]any, netText string) (Record, error) {
	if e.tooBig > 0 {
		return Record{}, fmt.Errorf("a value of %d bytes: a record holds at most %d", e.tooBig, MaxRecordBytes)
	}
	r, err := parseRecord(host, e.value)
	if err != nil {
		return r, err
	}
	if err := cl.check(v.keys, r); err != nil {
		return r, err
	}
	if network == nil {
		return r, nil
	}
	c, ok := v.alone[key]
	if !ok || c.value != string(e.value) || c.network != netText {
		_, _, err := Compile(key, network, []Record{r})
		c = aloneCheck{value: string(e.value), network: netText, err: err}
		v.alone[key] = c
	}
	if c.err != nil {
		return r, fmt.Errorf("cannot be part of a valid view: %w", c.err)
	}
	return r, nil
}

// sameFamily keeps the records of the fleet's underlay family: that of most
// records, or on a tie that of the record whose address was registered first.
// One host cannot change the family of the others by changing its own record.
func (v *viewer) sameFamily(rs []Record) ([]Record, []Stale) {
	count := map[string]int{}
	var first Record
	for _, r := range rs {
		count[family(r.Address)]++
		if first.Name == "" || v.registered[r.Name] < v.registered[first.Name] {
			first = r
		}
	}
	if len(count) < 2 {
		return rs, nil
	}
	want := family(first.Address)
	if count["IPv4"] != count["IPv6"] {
		want = map[bool]string{true: "IPv4", false: "IPv6"}[count["IPv4"] > count["IPv6"]]
	}
	var keep []Record
	var stale []Stale
	for _, r := range rs {
		if family(r.Address) == want {
			keep = append(keep, r)
			continue
		}
		stale = append(stale, Stale{v.keys.Host(r.Name), fmt.Sprintf("address %s is %s, the fleet's underlay is %s (that of most hosts): tunnels need one underlay family",
			r.Address, family(r.Address), want)})
	}
	return keep, stale
}

// compatible splits hosts, each valid on its own, into those that compile
// together and those that do not: hosts are added in the order they registered
// (etcd's create revision of their address claim), and a host that makes the
// view invalid is left out with the reason. Only called when the whole set does
// not compile, which the checks of each record make rare.
func (v *viewer) compatible(name string, network map[string]any, hosts []Record) (keep []Record, stale []Stale) {
	order := slices.Clone(hosts)
	slices.SortStableFunc(order, func(a, b Record) int {
		ra, rb := v.registered[a.Name], v.registered[b.Name]
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return cmpString(a.Name, b.Name)
	})
	for _, h := range order {
		if _, _, err := Compile(name, network, append(slices.Clone(keep), h)); err != nil {
			stale = append(stale, Stale{v.keys.Host(h.Name), fmt.Sprintf("cannot be part of a valid view with the hosts registered before it: %v", err)})
			continue
		}
		keep = append(keep, h)
	}
	slices.SortFunc(keep, func(a, b Record) int { return a.Index - b.Index })
	return keep, stale
}
