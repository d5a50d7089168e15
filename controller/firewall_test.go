package controller

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeFirewall holds the table it was last given; err fails every Apply.
type fakeFirewall struct {
	have *topology.Firewall
	err  error
}

var _ Firewall = (*fakeFirewall)(nil)

func (f *fakeFirewall) Apply(_ context.Context, want topology.Firewall, dry bool) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.have != nil && f.have.Equal(want) {
		return nil, nil
	}
	if !dry {
		f.have = &want
	}
	return []string{"create table inet " + want.Table}, nil
}

// TestFirewallStep: the firewall is a step of its own, after the files; a dry
// run writes nothing, a pass writes the plan's table, the next changes nothing,
// and a failing firewall keeps no other step from converging.
func TestFirewallStep(t *testing.T) {
	r, _, _ := newFake(t, "classic-gre.yaml")
	fw := &fakeFirewall{}
	r.Firewall = fw
	names := func(res Result) []string {
		var n []string
		for _, s := range res.Steps {
			n = append(n, s.Name)
		}
		return n
	}
	res := r.Once(context.Background(), true)
	if got := names(res); !slices.Equal(got, []string{StepOVSDB, StepBridge, StepFlows, StepFiles, StepFirewall}) {
		t.Errorf("steps %q", got)
	}
	if fw.have != nil || len(res.changes(StepFirewall)) != 1 {
		t.Errorf("dry run: wrote %v, changes %q", fw.have, res.changes(StepFirewall))
	}
	res = r.Once(context.Background(), false)
	if fw.have == nil || !fw.have.Equal(res.Want.Firewall) || res.Want.Firewall.Table != topology.FirewallTable {
		t.Errorf("pass: table %+v, want %+v", fw.have, res.Want.Firewall)
	}
	if res = r.Once(context.Background(), false); res.Changed() || res.Err() != nil {
		t.Errorf("second pass: %+v", res.Steps)
	}

	r2, s2, _ := newFake(t, "classic-gre.yaml")
	r2.Firewall = &fakeFirewall{err: errors.New("nftables: operation not supported")}
	res = r2.Once(context.Background(), false)
	if res.Err() == nil || s2.ovs == nil || s2.bridge == nil || s2.files == nil || len(s2.flows) == 0 {
		t.Errorf("a failing firewall: err %v, state:\n%s", res.Err(), s2)
	}
}
