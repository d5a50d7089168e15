package linuxbridge

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDiffAddrs(t *testing.T) {
	tests := []struct {
		name         string
		want, subnet string
		have         []string // "172.17.0.1/16", "172.17.0.2/16 secondary"
		out          string   // the plan, in order
	}{
		{"empty bridge", "172.17.0.1/16", "172.17.0.0/16", nil, "add 172.17.0.1/16"},
		{"in place", "172.17.0.1/16", "172.17.0.0/16", []string{"172.17.0.1/16"}, ""},
		{
			"another network of the subnet goes after the add",
			"172.17.0.2/16", "172.17.0.0/16", []string{"172.17.5.5/24"},
			"add 172.17.0.2/16; del 172.17.5.5/24 (inside subnet 172.17.0.0/16)",
		},
		{
			// Adding 172.17.0.2/16 next to 172.17.0.1/16 makes it a secondary,
			// which the kernel deletes with its primary.
			"the primary of want's network goes before the add",
			"172.17.0.2/16", "172.17.0.0/16", []string{"172.17.0.1/16", "172.17.5.5/24"},
			"del 172.17.0.1/16 (inside subnet 172.17.0.0/16); add 172.17.0.2/16; del 172.17.5.5/24 (inside subnet 172.17.0.0/16)",
		},
		{
			"want present as a secondary is added again after its primary goes",
			"172.17.0.2/16", "172.17.0.0/16", []string{"172.17.0.1/16", "172.17.0.2/16 secondary"},
			"del 172.17.0.1/16 (inside subnet 172.17.0.0/16); add 172.17.0.2/16",
		},
		{
			"secondaries of want's network go after",
			"172.17.0.1/16", "172.17.0.0/16", []string{"172.17.0.1/16", "172.17.0.9/16 secondary"},
			"del 172.17.0.9/16 (inside subnet 172.17.0.0/16)",
		},
		{
			"same address with another prefix length",
			"172.17.0.1/16", "172.17.0.0/16", []string{"172.17.0.1/24"},
			"add 172.17.0.1/16; del 172.17.0.1/24 (inside subnet 172.17.0.0/16)",
		},
		{
			"addresses outside the subnet stay",
			"172.17.0.1/16", "172.17.0.0/16", []string{"10.99.0.1/24", "172.18.0.1/16", "172.17.0.1/16"},
			"",
		},
		{
			"Docker's default is removed when its network overlaps the subnet",
			"172.17.128.1/17", "172.17.128.0/17", []string{"172.17.0.1/16", "172.17.0.9/16 secondary"},
			"add 172.17.128.1/17; del 172.17.0.1/16 (Docker's default address overlaps subnet 172.17.128.0/17)",
		},
		{
			"Docker's default stays when it does not clash",
			"10.200.0.1/16", "10.200.0.0/16", []string{"172.17.0.1/16"},
			"add 10.200.0.1/16",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var have []addr
			for _, h := range tt.have {
				p, sec := strings.CutSuffix(h, " secondary")
				have = append(have, addr{prefix: netip.MustParsePrefix(p), secondary: sec})
			}
			plan := diffAddrs(netip.MustParsePrefix(tt.want), netip.MustParsePrefix(tt.subnet), have)
			var out []string
			for _, r := range plan.before {
				out = append(out, fmt.Sprintf("del %s (%s)", r.addr, r.reason))
			}
			if plan.add {
				out = append(out, "add "+tt.want)
			}
			for _, r := range plan.after {
				out = append(out, fmt.Sprintf("del %s (%s)", r.addr, r.reason))
			}
			if got := strings.Join(out, "; "); got != tt.out {
				t.Errorf("got  %s\nwant %s", got, tt.out)
			}
		})
	}
}

func TestRetryDump(t *testing.T) {
	calls := 0
	v, err := retryDump(func() (int, error) {
		calls++
		if calls < 3 {
			return -1, netlink.ErrDumpInterrupted
		}
		return 42, nil
	})
	if v != 42 || err != nil || calls != 3 {
		t.Errorf("retryDump = %d, %v after %d calls; want 42, nil after 3", v, err, calls)
	}

	calls = 0
	_, err = retryDump(func() (int, error) { calls++; return 0, netlink.ErrDumpInterrupted })
	if !errors.Is(err, netlink.ErrDumpInterrupted) || calls != dumpTries {
		t.Errorf("always interrupted: %v after %d calls", err, calls)
	}

	boom := errors.New("boom")
	calls = 0
	if _, err = retryDump(func() (int, error) { calls++; return 0, boom }); err != boom || calls != 1 {
		t.Errorf("other error: %v after %d calls; want boom after 1", err, calls)
	}
}
