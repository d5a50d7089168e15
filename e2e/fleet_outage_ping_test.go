package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// fleetOutage is how long etcd stays down in TestFleetOutageKeepsPinging: much
// longer than the lease TTL and the grace.
const fleetOutage = 30 * time.Second

// TestFleetOutageKeepsPinging: etcd stops for 30 s while the containers of
// three hosts ping each other every 0.1 s: no ping is lost, no view, flow or
// tunnel changes, every loop stays healthy; when etcd is back every host follows
// the fleet again and a fourth host reaches every view.
func TestFleetOutageKeepsPinging(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	three := []string{"docker1", "docker2", "docker3"}
	loops := map[string]*loopProc{}
	for _, h := range three {
		loops[h] = f.fleetStart(t, h, "--lease-ttl", fleetTTL)
	}
	f.waitMembers(t, three, three)
	cts := f.containers(t, three)
	f.pingAll(t, cts)
	flows, regrants := map[string]string{}, map[string]float64{}
	for _, h := range three {
		flows[h] = f.flowDump(t, h)
		regrants[h] = loops[h].metric(t, "ovsmesh_fleet_lease_regrants_total")
	}
	// Pings for 1 s before the outage, during it and 15 s after etcd's start.
	count := int((time.Second + fleetOutage + 15*time.Second) / (100 * time.Millisecond))
	var pings []*bgPing
	for i, ct := range cts {
		pings = append(pings, startPing(t, ct, cts[(i+1)%len(cts)].Addr.Addr(), count))
	}
	time.Sleep(time.Second)

	f.stopEtcd(t)
	time.Sleep(fleetOutage)
	f.checkUnchanged(t, loops, three, flows)

	back := time.Now()
	f.startEtcd(t)
	f.waitFollowing(t, loops, three, regrants)
	for _, p := range pings {
		sent, recv := p.wait(t)
		t.Logf("ping %s -> %s every 0.1 s through the %v outage and etcd's return: %d sent, %d lost", p.from, p.to, fleetOutage, sent, sent-recv)
		if sent != count || recv != sent {
			t.Errorf("ping %s -> %s: %d sent, %d received: want all %d answered", p.from, p.to, sent, recv, count)
		}
	}

	start := time.Now()
	loops["docker4"] = f.fleetStart(t, "docker4", "--lease-ttl", fleetTTL)
	all := append(slices.Clone(three), "docker4")
	f.waitMembers(t, all, all)
	t.Logf("docker4 started %v after etcd's return: in every view with its tunnels %v after its start",
		start.Sub(back).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	f.pingAll(t, append(cts, f.containers(t, []string{"docker4"})...))
}

// checkUnchanged checks, after the outage, that every host has the 3 hosts in
// its view, the flow table it had before and a healthy loop.
func (f *fleetLab) checkUnchanged(t *testing.T, loops map[string]*loopProc, hosts []string, flows map[string]string) {
	t.Helper()
	for _, h := range hosts {
		if v := f.viewHosts(h); v == nil || len(v.Hosts) != 3 {
			t.Errorf("%s: view after %v without etcd: %v, want the 3 hosts", h, fleetOutage, v)
		}
		if got := f.flowDump(t, h); got != flows[h] {
			t.Errorf("%s: the flow table changed during the etcd outage:\nbefore:\n%s\nafter:\n%s", h, flows[h], got)
		}
		if code, body := loops[h].health(t); code != http.StatusOK {
			t.Errorf("%s: /healthz %d %q during the etcd outage", h, code, body)
		}
	}
}

// waitFollowing waits until every host follows the fleet again after etcd's
// return: its lease expired during the outage, so each is granted a new one
// (regrants counts them before), and every host's view reaches etcd's revision.
func (f *fleetLab) waitFollowing(t *testing.T, loops map[string]*loopProc, hosts []string, regrants map[string]float64) {
	t.Helper()
	took, ok := loopPoll(60*time.Second, func() bool {
		for _, h := range hosts {
			if loops[h].metric(t, "ovsmesh_fleet_lease_regrants_total") <= regrants[h] {
				return false
			}
		}
		rev := float64(f.status(t).Revision)
		for _, h := range hosts {
			if loops[h].metric(t, "ovsmesh_fleet_revision") != rev {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatal("the hosts did not follow the fleet again within 60s of etcd's start")
	}
	t.Logf("every host follows the fleet again %v after etcd was started (etcd itself needs 1-2 s)", took.Round(time.Millisecond))
}

// flowDump is host's flow table as ovsmesh writes it: without counters and
// without the MAC-learning entries (idle_timeout) that traffic adds, sorted.
func (f *fleetLab) flowDump(t *testing.T, host string) string {
	t.Helper()
	var lines []string
	for l := range strings.SplitSeq(f.ofctl(host, "dump-flows", "br0", "--no-stats"), "\n") {
		if !strings.Contains(l, "idle_timeout=") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// bgPing is count pings, one every 0.1 s, from a container in the background.
type bgPing struct {
	from, to string
	cmd      *exec.Cmd
	out      bytes.Buffer
	cancel   context.CancelFunc
}

func startPing(t *testing.T, ct *lab.Container, dst netip.Addr, count int) *bgPing {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	p := &bgPing{from: ct.Name, to: dst.String(), cancel: cancel}
	p.cmd = ct.Command(ctx, "ping", "-n", "-q", "-i", "0.1", "-W", "2", "-c", strconv.Itoa(count), dst.String())
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		cancel()
	})
	return p
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// wait waits for the ping to have sent its count (it then waits for the last
// echoes) and returns its summary.
func (p *bgPing) wait(t *testing.T) (sent, recv int) {
	t.Helper()
	_ = p.cmd.Wait() // ping exits 1 when an echo was lost: the summary says it
	p.cancel()
	m := pingSummary.FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("ping %s -> %s: no summary in %q", p.from, p.to, p.out.String())
	}
	sent, _ = strconv.Atoi(m[1])
	recv, _ = strconv.Atoi(m[2])
	return sent, recv
}
