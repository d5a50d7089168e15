package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// stpCheckStatus checks the STP column of `ovsmesh status` on a converged
// spanning tree: each tunnel shows the role/state OVSDB holds for it (Port
// status stp_role and stp_state under 802.1D, rstp_status rstp_port_role and
// rstp_port_state under RSTP).
func stpCheckStatus(t *testing.T, c *cluster, hosts []string, rstp bool) {
	t.Helper()
	column, prefix := "status", "stp_"
	if rstp {
		column, prefix = "rstp_status", "rstp_port_"
	}
	for _, h := range hosts {
		want := map[string]string{}
		for _, tu := range c.plan(h).OVS.Tunnels {
			get := func(key string) string {
				return strings.Trim(c.vsctl(h, "get", "port", tu.Name, column+":"+prefix+key), `"`)
			}
			want[tu.Name] = get("role") + "/" + get("state")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := c.host(h).Run(ctx, ovsmeshBin, "status", "--db", c.host(h).DB())
		cancel()
		if err != nil {
			t.Fatalf("%s: ovsmesh status: %v\n%s", h, err, out)
		}
		for _, line := range strings.Split(out, "\n") {
			// TUNNEL TYPE REMOTE OPTIONS OFPORT LINK BFD PATH STP ERROR: outside
			// a relaying mesh no column holds a space.
			f := strings.Fields(line)
			if len(f) != 10 || want[f[0]] == "" {
				continue
			}
			if f[8] != want[f[0]] {
				t.Errorf("%s: ovsmesh status shows tunnel %s in STP state %q, OVSDB %q", h, f[0], f[8], want[f[0]])
			}
			delete(want, f[0])
		}
		for name := range want {
			t.Errorf("%s: ovsmesh status has no row for tunnel %s:\n%s", h, name, out)
		}
	}
}
