package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestFleetRejoinUnderAnotherName: docker2 leaves the fleet (its service stops,
// `fleet remove docker2` frees index 2) and its machine joins again as web2, at
// the same address: web2 gets index 2 again, so each peer's plan swaps
// gre-docker2 for gre-web2, same remote_ip and ofport_request (issue 20). The
// peers' loops never fail a pass, their tunnel to web2 works and docker1's
// container reaches web2's within two intervals of web2's start.
func TestFleetRejoinUnderAnotherName(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	three := []string{"docker1", "docker2", "docker3"}
	loops := map[string]*loopProc{}
	for _, h := range three {
		loops[h] = f.fleetStart(t, h)
	}
	f.waitMembers(t, three, three)
	cts := f.containers(t, three)
	f.pingAll(t, cts)
	marks := map[string]int{"docker1": loops["docker1"].mark(), "docker3": loops["docker3"].mark()}

	loops["docker2"].stop(t)
	if out, err := f.ovsmesh("docker1", "fleet", "remove", "docker2"); err != nil {
		t.Fatalf("fleet remove docker2: %v\n%s", err, out)
	}
	start := time.Now()
	web2 := f.launchAs(t, "docker2", "web2")
	web2.waitHealthy(t)
	if got := f.status(t).index("web2"); got != 2 {
		t.Errorf("web2 got index %d, want 2 (freed by docker2)", got)
	}
	const interval = 10 * time.Second // fleetLaunch's
	for _, h := range []string{"docker1", "docker3"} {
		if _, ok := loopPoll(2*interval, func() bool { ok, _ := tunnelHealthy(f.cluster, h, "gre-web2"); return ok }); !ok {
			_, got := tunnelHealthy(f.cluster, h, "gre-web2")
			t.Errorf("%s: gre-web2: ofport ofport_request error %q, want its requested ofport and no error", h, got)
		}
	}
	took, ok := pingWithin(cts[0], addr(cts[1].Addr), 2*interval-time.Since(start))
	t.Logf("docker1's container reaches web2's %v after web2's start (%v of pinging)", time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	if !ok {
		t.Errorf("docker1's container does not reach web2's within two intervals (%v) of web2's start", 2*interval)
	}
	ping(t, cts[2], addr(cts[1].Addr), 56, false)
	for h, mark := range marks {
		for _, e := range loops[h].logs(t, mark, "reconcile step failed") {
			t.Errorf("loop on %s: a pass failed while docker2 left and web2 joined: %s: %s", h, e.Step, e.Err)
		}
		for _, e := range loops[h].logs(t, mark, "change") {
			if e.Step == "ovsdb" {
				t.Logf("loop on %s: %s %s", h, e.Time.Format("15:04:05.000"), e.Change)
			}
		}
	}
}

// launchAs starts `apply --etcd --interval` on lab host labHost as the fleet
// host name (see fleetLaunch), with labHost's files and machine-id.
func (f *fleetLab) launchAs(t *testing.T, labHost, name string) *loopProc {
	t.Helper()
	h := f.host(labHost)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	p := &loopProc{host: name, out: &syncBuffer{}, done: make(chan struct{}), start: time.Now()}
	argv := append([]string{ovsmeshBin, "apply", "--host", name, "--db", h.DB(), "--take-over",
		"--interfaces", filepath.Join(f.dir, labHost, "interfaces"), "--daemon-json", filepath.Join(f.dir, labHost, "daemon.json"),
		"--address", h.Underlay.String(), "--machine-id-file", f.machineID(labHost), "--view-file", f.viewFile(labHost),
		"--interval", "10s", "--metrics-addr", loopMetricsAddr, "--log-format", "json"}, f.etcdFlags()...)
	p.cmd = h.Command(ctx, argv...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: loopDialNS(h.NS), DisableKeepAlives: true}}
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); cancel(); close(p.done) }()
	t.Cleanup(func() {
		if p.alive() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("fleet loop on %s as %s: output (tail):\n%s", labHost, name, tail(p.out.String(), 40))
		}
	})
	return p
}
