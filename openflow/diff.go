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
// go-openvswitch's FlowTransaction can only write "add" and non-strict "delete"
// lines, and its MatchFlow has no priority. A non-strict delete removes every flow
// whose match is at least as specific (deleting "table=1,priority=1" would remove
// all of table 1), so one flow cannot be deleted precisely. Hence the choice:
//   - when no installed flow of ours needs to go away, the bundle only adds the
//     missing flows: an OpenFlow add replaces the flow with the same table,
//     priority and match, so a changed action is also just an add, and the flows
//     that are right keep their counters;
//   - otherwise the bundle deletes all flows with our cookie and adds the whole
//     desired table (full replace), which is still atomic.
type plan struct {
	missing []entry // wanted flows not installed exactly as wanted
	stale   []entry // installed flows of ours not wanted exactly as they are
	replace bool    // delete all our flows first, then add every wanted flow
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
	if len(p.stale) > 0 {
		wantID := make(map[string]bool, len(want))
		for _, e := range want {
			wantID[e.id] = true
		}
		haveID := make(map[string]int, len(have))
		for _, e := range have {
			haveID[e.id]++
		}
		for _, e := range p.stale {
			if !wantID[e.id] || haveID[e.id] > 1 {
				p.replace = true
			}
		}
	}
	p.add = p.missing
	if p.replace {
		p.add = want
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
