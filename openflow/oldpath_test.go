package openflow

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/ovsmesh/ovsmesh/topology"
)

// The read side as it was before dump.go, kept for the benchmark's baseline
// (BenchmarkReadCompare) and as an oracle (TestDumpAgreesWithOldParser): the dump
// (with statistics) parsed line by line by go-openvswitch, as
// OpenFlowService.DumpFlowsWithFlowArgs does, and both sides canonicalized from
// *ovs.Flow values.

// oldDumpEntries parses ovs-ofctl dump-flows output (with statistics) the way
// DumpFlowsWithFlowArgs does and canonicalizes it the way haveEntries did.
func oldDumpEntries(out []byte) ([]entry, error) {
	s := bufio.NewScanner(bytes.NewReader(bytes.TrimSpace(out)))
	if !s.Scan() || !bytes.Contains(s.Bytes(), []byte("ST_FLOW reply")) {
		return nil, errors.New("unexpected EOF")
	}
	var have []*ovs.Flow
	for s.Scan() {
		b := bytes.Clone(s.Bytes())
		if bytes.Contains(b, []byte("ST_FLOW reply")) {
			continue
		}
		f := new(ovs.Flow)
		if err := f.UnmarshalText(b); err != nil {
			return nil, err
		}
		have = append(have, f)
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(have))
	for _, f := range have {
		id, text, err := oldCanonical(f)
		if err != nil {
			id = fmt.Sprintf("table=%d,priority=%d,unreadable(%v)", f.Table, f.Priority, err)
			text = id
		}
		entries = append(entries, entry{id: id, text: text})
	}
	return entries, nil
}

// oldWantEntries is wantEntries as it was: every wanted flow converted with toOVS
// and canonicalized from the *ovs.Flow.
func oldWantEntries(want []topology.Flow) ([]entry, error) {
	out := make([]entry, 0, len(want))
	seen := make(map[string]bool, len(want))
	for i, f := range want {
		o, err := toOVS(f)
		if err != nil {
			return nil, err
		}
		id, text, err := oldCanonical(o)
		if err != nil {
			return nil, fmt.Errorf("flow %q: %w", f, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("flow %q: another flow has the same table, priority and match", f)
		}
		seen[id] = true
		out = append(out, entry{id: id, text: text, flow: &want[i]})
	}
	return out, nil
}

// oldCanonical is the former canonical(*ovs.Flow).
func oldCanonical(f *ovs.Flow) (id, text string, err error) {
	var fields []string
	for _, m := range f.Matches {
		b, err := m.MarshalText()
		if err != nil {
			return "", "", err
		}
		fields = append(fields, normField(string(b)))
	}
	slices.Sort(fields)
	head := []string{"table=" + strconv.Itoa(f.Table), "priority=" + strconv.Itoa(f.Priority)}
	if f.Protocol != "" {
		head = append(head, string(f.Protocol))
	}
	switch {
	case f.InPort == ovs.PortLOCAL:
		head = append(head, "in_port=LOCAL")
	case f.InPort != 0:
		head = append(head, "in_port="+strconv.Itoa(f.InPort))
	}
	if f.IdleTimeout != 0 {
		head = append(head, "idle_timeout="+strconv.Itoa(f.IdleTimeout))
	}
	id = strings.Join(append(head, fields...), ",")
	var actions []string
	for _, a := range f.Actions {
		b, err := a.MarshalText()
		if err != nil {
			return "", "", err
		}
		actions = append(actions, normAction(string(b)))
	}
	return id, id + ",actions=" + strings.Join(actions, ","), nil
}
