package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// loopHostState is what ovsmesh manages on a host, as the tools see it.
type loopHostState struct {
	Interfaces []string // ovsmesh's interfaces: name,type,options,ofport,mtu_request,external_ids
	Flows      []string // flows with ovsmesh's cookie, without statistics
	Docker0    string   // kind, MAC, MTU, up
	Addrs      []string // docker0's IPv4 addresses
	BR0        string   // the OVS bridge's internal interface: master, MTU, up
}

func (s loopHostState) String() string {
	var b strings.Builder
	for _, l := range s.Interfaces {
		fmt.Fprintf(&b, "interface %s\n", l)
	}
	fmt.Fprintf(&b, "%d flows\n", len(s.Flows))
	for _, l := range s.Flows {
		fmt.Fprintf(&b, "flow %s\n", l)
	}
	fmt.Fprintf(&b, "docker0 %s addrs %v\nbr0 %s\n", s.Docker0, s.Addrs, s.BR0)
	return b.String()
}

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

// loopReadState reads host's state. An error means something is missing (e.g.
// docker0) or a tool failed; the fields read before it are filled.
func loopReadState(c *cluster, host string) (loopHostState, error) {
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var s loopHostState
	out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=5", "--format=csv", "--data=bare", "--no-headings",
		"--columns=name,type,options,ofport,mtu_request,external_ids", "list", "interface")
	if err != nil {
		return s, err
	}
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "ovsmesh-owner=") {
			s.Interfaces = append(s.Interfaces, l)
		}
	}
	slices.Sort(s.Interfaces)
	out, err = h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "--timeout=5", "dump-flows", "--no-stats", "br0", loopCookie)
	if err != nil {
		return s, err
	}
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "actions=") {
			s.Flows = append(s.Flows, strings.TrimSpace(l))
		}
	}
	slices.Sort(s.Flows)
	type link struct {
		Address  string   `json:"address"`
		MTU      int      `json:"mtu"`
		Flags    []string `json:"flags"`
		Master   string   `json:"master"`
		LinkInfo struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	read := func(argv ...string) (link, error) {
		var ls []link
		out, err := h.Run(ctx, argv...)
		if err != nil {
			return link{}, err
		}
		if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls) != 1 {
			return link{}, fmt.Errorf("%v: %d links, %v: %s", argv, len(ls), err, out)
		}
		return ls[0], nil
	}
	br, err := read("ip", "-j", "-d", "link", "show", "dev", "br0")
	if err != nil {
		return s, err
	}
	s.BR0 = fmt.Sprintf("master=%s mtu=%d up=%v", br.Master, br.MTU, slices.Contains(br.Flags, "UP"))
	d0, err := read("ip", "-j", "-d", "link", "show", "dev", "docker0")
	if err != nil {
		return s, err
	}
	s.Docker0 = fmt.Sprintf("kind=%s mac=%s mtu=%d up=%v", d0.LinkInfo.Kind, d0.Address, d0.MTU, slices.Contains(d0.Flags, "UP"))
	a, err := read("ip", "-j", "-4", "addr", "show", "dev", "docker0")
	if err != nil {
		return s, err
	}
	for _, ai := range a.AddrInfo {
		s.Addrs = append(s.Addrs, fmt.Sprintf("%s/%d", ai.Local, ai.PrefixLen))
	}
	slices.Sort(s.Addrs)
	return s, nil
}

// loopBaseline reads host's state and checks it against the plan.
func loopBaseline(t *testing.T, c *cluster, host string) loopHostState {
	t.Helper()
	s, err := loopReadState(c, host)
	if err != nil {
		t.Fatal(err)
	}
	plan := c.plan(host)
	if len(s.Flows) != len(plan.Flows) {
		t.Errorf("%s: %d flows with ovsmesh's cookie, want %d", host, len(s.Flows), len(plan.Flows))
	}
	if want := fmt.Sprintf("kind=bridge mac=%s mtu=%d up=true", plan.Docker.MAC, plan.Docker.MTU); s.Docker0 != want {
		t.Errorf("%s: docker0 %s, want %s", host, s.Docker0, want)
	}
	if !slices.Contains(s.Addrs, plan.Docker.Address.String()) {
		t.Errorf("%s: docker0 addresses %v, want %s among them", host, s.Addrs, plan.Docker.Address)
	}
	if want := fmt.Sprintf("master=docker0 mtu=%d up=true", plan.Docker.MTU); s.BR0 != want {
		t.Errorf("%s: br0 %s, want %s", host, s.BR0, want)
	}
	for _, tu := range plan.OVS.Tunnels {
		if !slices.ContainsFunc(s.Interfaces, func(l string) bool {
			// The options field holds local_ip and remote_ip, in that order.
			return strings.HasPrefix(l, fmt.Sprintf("%s,%s,", tu.Name, tu.Type)) &&
				strings.Contains(l, fmt.Sprintf("remote_ip=%s,%d,", tu.RemoteIP, tu.OFPort)) &&
				strings.Contains(l, "local_ip="+tu.LocalIP.String())
		}) {
			t.Errorf("%s: tunnel %s to %s (ofport %d) missing from %q", host, tu.Name, tu.RemoteIP, tu.OFPort, s.Interfaces)
		}
	}
	return s
}

// loopWaitUntil polls host's state until ok accepts it and returns how long that
// took; it fails the test (showing the last state) unless that happens within
// bound.
func loopWaitUntil(t *testing.T, c *cluster, host string, bound time.Duration, what string, ok func(s loopHostState, err error) bool) time.Duration {
	t.Helper()
	var last loopHostState
	var lastErr error
	took, done := poll(bound, func() bool {
		last, lastErr = loopReadState(c, host)
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
func loopWaitState(t *testing.T, c *cluster, host string, want loopHostState, bound time.Duration, what string) time.Duration {
	t.Helper()
	var last loopHostState
	var lastErr error
	took, done := poll(bound, func() bool {
		last, lastErr = loopReadState(c, host)
		return lastErr == nil && last.String() == want.String()
	})
	if !done {
		t.Errorf("%s: %s not repaired within %v: %v\n%s", host, what, bound, lastErr, loopDiff(want.String(), last.String()))
	} else {
		t.Logf("%s: %s repaired in %v", host, what, took.Round(time.Millisecond))
	}
	return took
}

// loopWaitPing polls until ct gets a reply from dst and returns how long it took.
func loopWaitPing(t *testing.T, ct *lab.Container, dst netip.Addr, bound time.Duration) time.Duration {
	t.Helper()
	var err error
	took, ok := poll(bound, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = ct.Ping(ctx, dst, 56, false)
		return err == nil
	})
	if !ok {
		t.Errorf("%s -> %s: no reply within %v: %v", ct.Name, dst, bound, err)
	}
	return took
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
