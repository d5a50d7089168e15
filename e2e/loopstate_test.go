package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// loopDiff lists the lines of want missing from got (-) and the extra ones (+).
func loopDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// loopBaseline reads host's state and checks it against the plan.
func loopBaseline(t *testing.T, c *cluster, host string) hostState {
	t.Helper()
	s, err := readHostState(c, host, false)
	if err != nil {
		t.Fatal(err)
	}
	plan := c.plan(host)
	if len(s.Flows) != len(plan.Flows) {
		t.Errorf("%s: %d flows with ovsmesh's cookie, want %d", host, len(s.Flows), len(plan.Flows))
	}
	d0, _, _ := strings.Cut(s.Docker0, " addresses=")
	addrs, ports, _ := strings.Cut(strings.TrimPrefix(s.Docker0, d0+" addresses="), " ports=")
	if want := fmt.Sprintf("docker0 kind=bridge mac=%s mtu=%d up=true", plan.Docker.MAC, plan.Docker.MTU); d0 != want {
		t.Errorf("%s: %s, want %s", host, d0, want)
	}
	if !slices.Contains(strings.Split(addrs, ","), plan.Docker.Address.String()) {
		t.Errorf("%s: docker0 addresses %s, want %s among them", host, addrs, plan.Docker.Address)
	}
	if want := fmt.Sprintf("br0 mtu=%d up=true", plan.Docker.MTU); s.BR0 != want || !slices.Contains(strings.Split(ports, ","), "br0") {
		t.Errorf("%s: %s with docker0's ports %s, want %s, a port of docker0", host, s.BR0, ports, want)
	}
	for _, tu := range plan.OVS.Tunnels {
		if !slices.ContainsFunc(s.Rows, func(l string) bool {
			// The options field holds local_ip and remote_ip, in that order.
			return strings.HasPrefix(l, fmt.Sprintf("interface %s type=%s ", tu.Name, tu.Type)) &&
				strings.Contains(l, fmt.Sprintf(",remote_ip=%s ", tu.RemoteIP)) &&
				strings.Contains(l, fmt.Sprintf(" ofport=%d ", tu.OFPort)) &&
				strings.Contains(l, "local_ip="+tu.LocalIP.String())
		}) {
			t.Errorf("%s: tunnel %s to %s (ofport %d) missing from %q", host, tu.Name, tu.RemoteIP, tu.OFPort, s.Rows)
		}
	}
	return s
}

// loopWaitUntil polls host's state until ok accepts it and returns how long that
// took; it fails the test (showing the last state) unless that happens within
// bound.
func loopWaitUntil(t *testing.T, c *cluster, host string, bound time.Duration, what string, ok func(s hostState, err error) bool) time.Duration {
	t.Helper()
	var last hostState
	var lastErr error
	took, done := poll(bound, func() bool {
		last, lastErr = readHostState(c, host, false)
		return ok(last, lastErr)
	})
	if !done {
		t.Errorf("%s: %s: not within %v: %v\n%s", host, what, bound, lastErr, last)
	} else {
		t.Logf("%s: %s: %v", host, what, took.Round(time.Millisecond))
	}
	return took
}

// loopWaitState waits until host's state is want again (see loopWaitUntil).
func loopWaitState(t *testing.T, c *cluster, host string, want hostState, bound time.Duration, what string) time.Duration {
	t.Helper()
	var last hostState
	var lastErr error
	took, done := poll(bound, func() bool {
		last, lastErr = readHostState(c, host, false)
		return lastErr == nil && last.String() == want.String()
	})
	if !done {
		t.Errorf("%s: %s not repaired within %v: %v\n%s", host, what, bound, lastErr, loopDiff(want.String(), last.String()))
	} else {
		t.Logf("%s: %s repaired in %v", host, what, took.Round(time.Millisecond))
	}
	return took
}

// pingWithin pings dst from ct (each echo waiting up to 1 s for its reply)
// until it answers and returns how long that took, or the last error when no
// reply came within d.
func pingWithin(ct *lab.Container, dst netip.Addr, d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, fmt.Errorf("ping %s -> %s: no time left to wait", ct.Name, dst)
	}
	var err error
	took, _ := poll(d, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = ct.Ping(ctx, dst, 56, false)
		return err == nil
	}, 100*time.Millisecond)
	return took, err
}

// loopWriteFile replaces path atomically (a pass never reads half a file).
func loopWriteFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
