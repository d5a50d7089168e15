package openflow

import (
	"fmt"
	"slices"

	"github.com/ovsmesh/ovsmesh/topology"
)

// entry is one flow in canonical form (see canonical and dumpEntries).
type entry struct {
	id   string // table, priority, match
	text string // id and actions
	// flow is the wanted flow (nil for a dumped one): only the flows a bundle
	// adds are converted to go-openvswitch's form.
	flow *topology.Flow
	// match is a dumped flow's table, priority and match as ovs-ofctl printed
	// them (its own syntax, which it reads back), for a strict delete; "" for a
	// wanted flow or a dump line that could not be read.
	match string
}

// wantEntries canonicalizes the desired table; the entries point into want. Two
// flows with the same table, priority and match are an error: OpenFlow keeps only
// one of them, so the table would never converge.
func wantEntries(want []topology.Flow) ([]entry, error) {
	out := make([]entry, 0, len(want))
	seen := make(map[string]bool, len(want))
	for i := range want {
		f := &want[i]
		id, text, err := canonical(f)
		if err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, fmt.Errorf("flow %q: another flow has the same table, priority and match", f)
		}
		seen[id] = true
		out = append(out, entry{id: id, text: text, flow: f})
	}
	return out, nil
}

// plan is what one Apply sends in its bundle.
//
// An OpenFlow add replaces the flow with the same table, priority and match, so a
// wanted flow that is missing or whose actions changed is just an add, and the
// flows that are right keep their counters. An installed flow of ours whose
// table, priority and match no wanted flow has is removed by a strict delete
// (delete_strict: exactly that priority and match, with our cookie), in the same
// bundle before the adds. So adding or removing a peer sends only the flows that
// differ, in one atomic bundle.
//
// Two cases cannot name a flow precisely and fall back to a full replace (delete
// every flow with our cookie, then add the whole desired table, still atomic): a
// dump line that could not be read, and two installed flows that canonicalize to
// the same table, priority and match.
type plan struct {
	missing []entry // wanted flows not installed exactly as wanted
	stale   []entry // installed flows of ours not wanted exactly as they are
	replace bool    // delete all our flows first, then add every wanted flow
	deletes []entry // stale flows the bundle deletes strictly (none with replace)
	add     []entry // the flows the bundle adds
}

// diff compares the desired table with the installed one. The identities are
// only looked at when some installed flow must go, so an up-to-date table costs
// one map.
func diff(want, have []entry) plan {
	const wanted, installed = 1, 2
	text := make(map[string]uint8, len(want))
	for _, e := range want {
		text[e.text] = wanted
	}
	var p plan
	for _, e := range have {
		if text[e.text] == wanted {
			text[e.text] = installed
			continue
		}
		// A wanted text seen twice means two installed flows differ only in
		// what canonicalization drops or normalizes: that flow must go too.
		p.stale = append(p.stale, e)
	}
	for _, e := range want {
		if text[e.text] != installed {
			p.missing = append(p.missing, e)
		}
	}
	p.add = p.missing
	if len(p.stale) == 0 {
		return p
	}
	wantID := make(map[string]bool, len(want))
	for _, e := range want {
		wantID[e.id] = true
	}
	haveID := make(map[string]int, len(have))
	for _, e := range have {
		haveID[e.id]++
	}
	for _, e := range p.stale {
		switch {
		case e.match == "" || haveID[e.id] > 1:
			p.replace = true
		case !wantID[e.id]:
			p.deletes = append(p.deletes, e)
		}
		// else: the add of the wanted flow with that identity replaces it.
	}
	if p.replace {
		p.deletes, p.add = nil, want
	}
	return p
}

// changes describes the plan, one line per flow added or deleted: adds in the
// order of the desired table, then deletes sorted.
func (p plan) changes() []string {
	var add, del []string
	for _, e := range p.missing {
		add = append(add, "add flow "+e.text)
	}
	for _, e := range p.stale {
		del = append(del, "delete flow "+e.text)
	}
	slices.Sort(del)
	return append(add, del...)
}
