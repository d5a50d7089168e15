package openflow

import (
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Flows of a small table, as topology writes them.
var (
	fDrop   = topology.Flow{Table: 0, Priority: 1, Actions: []string{"drop"}}
	fLocal  = topology.Flow{Table: 0, Priority: 80, InPort: topology.PortLocal, Actions: []string{"resubmit(,1)"}}
	fARP    = topology.Flow{Table: 1, Priority: 100, Proto: "arp", ArpTPA: "172.17.0.2", Actions: []string{"output:32770"}}
	fFlood  = topology.Flow{Table: 1, Priority: 1, Actions: []string{"output:32770", "output:32771"}}
	fFlood1 = topology.Flow{Table: 1, Priority: 1, Actions: []string{"output:32770"}}
	fSpoof  = topology.Flow{Table: 0, Priority: 100, InPort: 32771, Proto: "ip", NwSrc: "172.17.0.3", Actions: []string{"resubmit(,2)"}}
)

// dumped canonicalizes dump lines as Apply does.
func dumped(lines ...string) []entry {
	return dumpEntries([]byte(strings.Join(lines, "\n")))
}

// dumpLine is how ovs-vswitchd 3.1 prints a flow of ours (see
// testdata/kinds.dump).
func dumpLine(f topology.Flow) string { return vswitchdLine(f, true) }

func TestDiff(t *testing.T) {
	tests := []struct {
		name    string
		want    []topology.Flow
		have    []string // dump lines
		changes []string
		replace bool
		deletes []string // the matches the bundle deletes strictly
		add     []string // canonical texts of the flows the bundle adds
	}{
		{
			name: "equal",
			want: []topology.Flow{fDrop, fLocal, fARP, fFlood},
			have: []string{dumpLine(fFlood), dumpLine(fARP), dumpLine(fLocal), dumpLine(fDrop)},
		},
		{
			name:    "first install",
			want:    []topology.Flow{fDrop, fARP},
			changes: []string{"add flow " + fDrop.String(), "add flow " + fARP.String()},
			add:     []string{fDrop.String(), fARP.String()},
		},
		{
			name:    "a deleted flow is added alone",
			want:    []topology.Flow{fDrop, fLocal, fARP},
			have:    []string{dumpLine(fDrop), dumpLine(fARP)},
			changes: []string{"add flow " + fLocal.String()},
			add:     []string{fLocal.String()},
		},
		{
			// An add replaces the flow with the same table, priority and match.
			name:    "changed actions are an add",
			want:    []topology.Flow{fDrop, fFlood1},
			have:    []string{dumpLine(fDrop), dumpLine(fFlood)},
			changes: []string{"add flow " + fFlood1.String(), "delete flow " + fFlood.String()},
			add:     []string{fFlood1.String()},
		},
		{
			// A removed peer's flows go one by one: the others stay as they are.
			name:    "an unwanted flow is deleted strictly",
			want:    []topology.Flow{fDrop, fARP},
			have:    []string{dumpLine(fDrop), dumpLine(fARP), dumpLine(fSpoof)},
			changes: []string{"delete flow " + fSpoof.String()},
			deletes: []string{"table=0,priority=100,ip,in_port=32771,nw_src=172.17.0.3"},
		},
		{
			name:    "a flow goes, another changes, one is added",
			want:    []topology.Flow{fDrop, fFlood1, fARP},
			have:    []string{dumpLine(fDrop), dumpLine(fFlood), dumpLine(fSpoof)},
			changes: []string{"add flow " + fFlood1.String(), "add flow " + fARP.String(), "delete flow " + fSpoof.String(), "delete flow " + fFlood.String()},
			deletes: []string{"table=0,priority=100,ip,in_port=32771,nw_src=172.17.0.3"},
			add:     []string{fFlood1.String(), fARP.String()},
		},
		{
			name:    "nothing wanted",
			have:    []string{dumpLine(fDrop)},
			changes: []string{"delete flow " + fDrop.String()},
			deletes: []string{"table=0,priority=1"},
		},
		{
			// ovs-ofctl add-flow without -O sets reset_counts, a flag ovsmesh
			// never sets: the flow is replaced by ours.
			name:    "a hand-added flow with our cookie",
			want:    []topology.Flow{fDrop},
			have:    []string{"cookie=0x6f76736d657368, duration=1.2s, table=0, n_packets=0, n_bytes=0, reset_counts priority=1 actions=drop"},
			changes: []string{"add flow " + fDrop.String(), "delete flow table=0,priority=1,reset_counts,actions=drop"},
			deletes: []string{"table=0,priority=1"},
			add:     []string{fDrop.String()},
		},
		{
			// A match field ovsmesh never writes is part of the identity: the
			// flow is not ours as wanted, and goes.
			name: "a flow that differs only in a field ovsmesh never writes",
			want: []topology.Flow{fARP},
			have: []string{dumpLine(fARP),
				"cookie=0x6f76736d657368, duration=1.2s, table=1, n_packets=0, n_bytes=0, priority=100,pkt_mark=0x1,arp,arp_tpa=172.17.0.2 actions=output:32770"},
			changes: []string{"delete flow table=1,priority=100,arp,arp_tpa=172.17.0.2,pkt_mark=0x1,actions=output:32770"},
			deletes: []string{"table=1,priority=100,pkt_mark=0x1,arp,arp_tpa=172.17.0.2"},
		},
		{
			// Two installed flows that canonicalize alike (here the same flow
			// twice, which vswitchd never prints): the second one goes.
			name:    "the same text twice",
			want:    []topology.Flow{fARP},
			have:    []string{dumpLine(fARP), dumpLine(fARP)},
			changes: []string{"delete flow " + fARP.String()},
			replace: true,
			add:     []string{fARP.String()},
		},
		{
			name:    "an unreadable line is replaced",
			want:    []topology.Flow{fDrop},
			have:    []string{dumpLine(fDrop), "garbage"},
			changes: []string{"delete flow unreadable(garbage)"},
			replace: true,
			add:     []string{fDrop.String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := wantEntries(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			p := diff(want, dumped(tt.have...))
			if got := p.changes(); !slices.Equal(got, tt.changes) {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.changes, "\n"))
			}
			if p.replace != tt.replace {
				t.Errorf("replace = %v, want %v", p.replace, tt.replace)
			}
			var dels []string
			for _, e := range p.deletes {
				dels = append(dels, e.match)
			}
			if !slices.Equal(dels, tt.deletes) {
				t.Errorf("strict deletes:\n%s\nwant:\n%s", strings.Join(dels, "\n"), strings.Join(tt.deletes, "\n"))
			}
			var add []string
			for _, e := range p.add {
				add = append(add, e.text)
				if e.flow == nil || e.flow.String() != e.text {
					t.Errorf("add %q carries flow %v", e.text, e.flow)
				}
			}
			if !slices.Equal(add, tt.add) {
				t.Errorf("adds:\n%s\nwant:\n%s", strings.Join(add, "\n"), strings.Join(tt.add, "\n"))
			}
		})
	}
}

func TestWantEntriesRejectsSameMatch(t *testing.T) {
	_, err := wantEntries([]topology.Flow{fFlood, fFlood1})
	if err == nil || !strings.Contains(err.Error(), "same table, priority and match") {
		t.Errorf("err = %v, want a same-match error", err)
	}
}

func TestLabTableIsConsistent(t *testing.T) {
	for _, host := range []string{"docker1", "docker2", "docker3"} {
		flows := labFlows(t, host)
		want, err := wantEntries(flows)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		for i, e := range want {
			if s := flows[i].String(); e.text != s {
				t.Errorf("%s: canonical %q, String %q", host, e.text, s)
			}
		}
	}
}
