package ovsdb

import (
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
	"github.com/ovsmesh/ovsmesh/topology"
)

// rstpState is greState under RSTP (stp mode, rstp: true) with a cost per tunnel.
func rstpState(rstp bool, peers ...int) topology.OVSState {
	s := greState(peers...)
	s.FailMode, s.STP, s.RSTP = "", !rstp, rstp
	for i := range s.Tunnels {
		s.Tunnels[i].STPCost = 10 * (i + 1)
	}
	return s
}

// TestDiffPathCostKey: the cost goes to the key the bridge's protocol reads, the
// other key goes, and a switch between STP and RSTP moves the cost over; other
// other_config keys stay.
func TestDiffPathCostKey(t *testing.T) {
	cases := []struct {
		name  string
		want  topology.OVSState
		have  *fakeDB
		lines []string
	}{
		{
			name: "create under rstp", want: rstpState(true, 2), have: newFakeDB(),
			lines: []string{
				"create bridge br0 datapath_type=netdev protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 rstp_enable=true stp_enable=false",
				"create port br0 type=internal mtu_request=1462",
				"create port gre-docker2 type=gre remote_ip=198.18.0.2 rstp-path-cost=10 ofport_request=32770",
			},
		},
		{name: "no-op under rstp", want: rstpState(true, 2, 3), have: converged(rstpState(true, 2, 3))},
		{
			name: "stp to rstp", want: rstpState(true, 2), have: converged(rstpState(false, 2)).editPort("gre-docker2", func(p *vswitchd.Port) {
				p.OtherConfig["operator"] = "x"
			}),
			lines: []string{
				"update bridge br0 rstp_enable false -> true",
				"update bridge br0 stp_enable true -> false",
				"update port gre-docker2 other_config:rstp-path-cost (unset) -> 10",
				"update port gre-docker2 other_config:stp-path-cost 10 -> (unset)",
			},
		},
		{
			name: "rstp to stp", want: rstpState(false, 2), have: converged(rstpState(true, 2)),
			lines: []string{
				"update bridge br0 rstp_enable true -> false",
				"update bridge br0 stp_enable false -> true",
				"update port gre-docker2 other_config:rstp-path-cost 10 -> (unset)",
				"update port gre-docker2 other_config:stp-path-cost (unset) -> 10",
			},
		},
		{
			name: "mesh mode drops both", want: greState(2), have: converged(greState(2)).editPort("gre-docker2", func(p *vswitchd.Port) {
				p.OtherConfig = map[string]string{"stp-path-cost": "5", "rstp-path-cost": "6", "operator": "x"}
			}),
			lines: []string{
				"update port gre-docker2 other_config:rstp-path-cost 6 -> (unset)",
				"update port gre-docker2 other_config:stp-path-cost 5 -> (unset)",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := diff(tc.want, snapshotOf(tc.have.t, tc.want.Bridge))
			checkText(t, "lines", strings.Join(p.Lines, "\n"), strings.Join(tc.lines, "\n"))
		})
	}
}

// TestDiffNudge: only a pass that deletes ports of an existing RSTP bridge plans
// the role reselection, on a remaining tunnel of ovsmesh's, one priority step
// away from the port's priority and back to the key as it was.
func TestDiffNudge(t *testing.T) {
	cases := []struct {
		name string
		want topology.OVSState
		have *fakeDB
		line string // "" for no nudge
	}{
		{
			name: "rstp, a tunnel deleted", want: rstpState(true, 2), have: converged(rstpState(true, 2, 3)),
			line: "reselect rstp roles on bridge br0 (ports were deleted): port gre-docker2 other_config:rstp-port-priority (unset) -> 144 -> (unset)",
		},
		{
			name: "the operator's priority comes back", want: rstpState(true, 2),
			have: converged(rstpState(true, 2, 3)).editPort("gre-docker2", func(p *vswitchd.Port) { p.OtherConfig[portPriorityKey] = "200" }),
			line: "reselect rstp roles on bridge br0 (ports were deleted): port gre-docker2 other_config:rstp-port-priority 200 -> 208 -> 200",
		},
		{
			name: "a port of another owner is not nudged", want: rstpState(true, 2, 3),
			have: converged(rstpState(true, 3, 4)).addPort("br0", vswitchd.Port{Name: "gre-docker2"}, vswitchd.Interface{Name: "gre-docker2"}),
			line: "reselect rstp roles on bridge br0 (ports were deleted): port gre-docker3 other_config:rstp-port-priority (unset) -> 144 -> (unset)",
		},
		{name: "rstp, nothing deleted", want: rstpState(true, 2, 3), have: converged(rstpState(true, 2))},
		{name: "rstp, no-op", want: rstpState(true, 2, 3), have: converged(rstpState(true, 2, 3))},
		{name: "stp, a tunnel deleted", want: rstpState(false, 2), have: converged(rstpState(false, 2, 3))},
		{name: "mesh, a tunnel deleted", want: greState(2), have: converged(greState(2, 3))},
		{name: "rstp, no tunnel left", want: rstpState(true), have: converged(rstpState(true, 2))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := diff(tc.want, snapshotOf(tc.have.t, "br0"))
			var got string
			for _, l := range p.Lines {
				if strings.HasPrefix(l, "reselect ") {
					got = l
				}
			}
			checkText(t, "nudge line", got, tc.line)
			if (p.Nudge != nil) != (tc.line != "") {
				t.Errorf("nudge plan %+v with line %q", p.Nudge, tc.line)
			}
		})
	}
}

// TestRSTPNudgeMemory: against the in-memory server with a stand-in for
// ovs-vswitchd, a pass that deletes a tunnel of an RSTP bridge sends its
// transaction and the two of the reselection, leaves the priority key as it was,
// and the next pass sends nothing; a switch to STP moves the costs to
// stp-path-cost, and a deletion under STP sends one transaction.
func TestRSTPNudgeMemory(t *testing.T) {
	endpoint, op := memoryServer(t)
	fakeVSwitchd(t, op)
	c := connect(t, endpoint)
	ctx := t.Context()
	if _, err := c.Apply(ctx, rstpState(true, 2, 3, 4), false); err != nil {
		t.Fatal(err)
	}
	before := c.Transactions()
	lines, err := c.Apply(ctx, rstpState(true, 2, 3), false)
	if err != nil {
		t.Fatal(err)
	}
	checkText(t, "lines", strings.Join(lines, "\n"), strings.Join([]string{
		"delete port gre-docker4 type=gre remote_ip=198.18.0.4 (no longer in the topology)",
		"reselect rstp roles on bridge br0 (ports were deleted): port gre-docker2 other_config:rstp-port-priority (unset) -> 144 -> (unset)",
	}, "\n"))
	if n := c.Transactions() - before; n != 3 {
		t.Errorf("deleting a tunnel under rstp sent %d transactions, want 3", n)
	}
	if d := dump(t, c); !strings.Contains(d, "port gre-docker2 interfaces=1 other_config={rstp-path-cost=10} ") {
		t.Errorf("gre-docker2 after the reselection:\n%s", d)
	}
	before = c.Transactions()
	if lines, err := c.Apply(ctx, rstpState(true, 2, 3), false); err != nil || len(lines) > 0 || c.Transactions() != before {
		t.Errorf("pass after the reselection: %q, %v, %d transactions; want none", lines, err, c.Transactions()-before)
	}

	if _, err := c.Apply(ctx, rstpState(false, 2, 3), false); err != nil {
		t.Fatal(err)
	}
	if d := dump(t, c); !strings.Contains(d, "port gre-docker2 interfaces=1 other_config={stp-path-cost=10} ") ||
		!strings.Contains(d, "port gre-docker3 interfaces=1 other_config={stp-path-cost=20} ") {
		t.Errorf("after the switch to 802.1D STP, the costs are not under stp-path-cost alone:\n%s", d)
	}
	before = c.Transactions()
	if _, err := c.Apply(ctx, rstpState(false, 2), false); err != nil {
		t.Fatal(err)
	}
	if n := c.Transactions() - before; n != 1 {
		t.Errorf("deleting a tunnel under stp sent %d transactions, want 1", n)
	}
}
