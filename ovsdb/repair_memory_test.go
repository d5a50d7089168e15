package ovsdb

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestRecreateRefusedMemory: against a fake ovs-vswitchd that always refuses
// tunnels to 192.0.2.66, a refused tunnel is recreated (one transaction that
// deletes it, one that creates it) on every other pass only: the pass after a
// recreation sends nothing, so a loop retries at its backoff's pace.
func TestRecreateRefusedMemory(t *testing.T) {
	endpoint, op := memoryServer(t)
	fakeVSwitchd(t, op)
	c := connect(t, endpoint)
	want := greState(2, 3)
	want.Tunnels[1].RemoteIP = netip.MustParseAddr("192.0.2.66")
	const what = `tunnel port "gre-docker3" to 192.0.2.66: ovs-vswitchd reports: could not add network device gre-docker3`
	const recreate = "recreate port gre-docker3 type=gre remote_ip=192.0.2.66 ofport_request=32771 (ovs-vswitchd reports: could not add network device gre-docker3)"
	steps := []struct {
		lines        string
		transactions int // sent by the pass
		err          string
	}{
		{"", 1, what + " (the next pass recreates it)"},
		{recreate, 2, what + " (recreated by this pass; the next pass reports it, the one after recreates it again)"},
		{"", 0, what + " (the next pass recreates it)"},
		{recreate, 2, what + " (recreated by this pass; the next pass reports it, the one after recreates it again)"},
	}
	for i, s := range steps {
		before := c.Transactions()
		lines, err := c.Apply(t.Context(), want, false)
		if i == 0 {
			lines = nil // the first pass creates everything
		}
		got := fmt.Sprintf("%s\n%d transactions\n%v", strings.Join(lines, "\n"), c.Transactions()-before, err)
		checkText(t, fmt.Sprintf("pass %d", i+1), got, fmt.Sprintf("%s\n%d transactions\n%s", s.lines, s.transactions, s.err))
	}
}
