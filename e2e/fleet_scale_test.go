package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/topology"
)

// scaleSims is how many simulated members TestFleetScaleWithRealHosts registers.
const scaleSims = 1000

// scaleNetwork has room for the simulated members and the lab's hosts.
const scaleNetwork = `network:
  encap: gre
  mode: mesh
  datapath: netdev
  subnet: 10.0.0.0/8
  slice_prefix: 20
`

// TestFleetScaleWithRealHosts (OVSMESH_SCALE=1, `make bench-fleet`): 1000
// simulated members (a record, an index and a liveness key each, no OVS) and
// three real lab hosts in one fleet. It measures, and compares with file mode
// on the same hosts and the same 1003 hosts in the same run: each real host's
// first pass (br0 built anew in both modes), a steady pass, and join-to-plan
// (from a fourth host's start, or from the file that adds it, until each real
// host's flow table has its tunnel); in fleet mode, from docker4's start to
// the first reply to a ping from a container on each real host to a container
// on docker4; and etcd's RSS and CPU. It asserts that every host converges and
// every ping is answered, never timings.
func TestFleetScaleWithRealHosts(t *testing.T) {
	if os.Getenv("OVSMESH_SCALE") != "1" {
		t.Skip("set OVSMESH_SCALE=1 (make bench-fleet)")
	}
	f := newFleetLab(t, scaleNetwork)
	cpu0 := procCPUTime(t, f.etcd.Process.Pid)
	f.seedSims(t, scaleSims, 11) // indexes 11..1010: the lab's hosts get 1..4
	pins := f.pinFleet(t)
	three := []string{"docker1", "docker2", "docker3"}
	var rows [][4]string
	fleetFirst, fleetLoops := f.scaleStart(t, three, func(h string) *loopProc {
		return pins.loop(t, launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--interval", "5s"}}))
	})
	fleetSteady := steadyPass(t, fleetLoops)
	joinRows, fleetStart, fleetJoin, data := f.fleetJoins(t, three, fleetLoops, pins)
	rss, cpu := procRSS(t, f.etcd.Process.Pid), procCPUTime(t, f.etcd.Process.Pid)-cpu0

	// File mode: the same hosts, the same 1003 hosts (the fleet's view without
	// docker4), then the file that adds docker4.
	_, _, full, _ := fleet.ParseViewFile(data)
	if !strings.Contains(string(full), `name: "docker4"`) {
		t.Fatalf("docker1's view has no docker4:\n%s", tail(string(full), 5))
	}
	for _, p := range fleetLoops {
		p.stop(t)
	}
	var without []string
	for l := range strings.SplitSeq(string(full), "\n") {
		if !strings.Contains(l, `name: "docker4"`) {
			without = append(without, l)
		}
	}
	f.writeAtomic(t, strings.Join(without, "\n"))
	// The file mode's first pass builds what the fleet's did: br0, its 1002
	// tunnels and their flows (docker0 and the containers stay). The file
	// is as old as a file written before the service started, so that the
	// first pass does not wait for it to settle (topofile) either.
	for _, h := range three {
		f.vsctl(h, "del-br", "br0")
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(f.path, old, old); err != nil {
		t.Fatal(err)
	}
	fileFirst, fileLoops := f.scaleStart(t, three, func(h string) *loopProc {
		return pins.loop(t, launchLoop(t, f.cluster, h, loopOpts{args: []string{"--interval", "5s"}}))
	})
	fileSteady := steadyPass(t, fileLoops)
	fileStart, fileJoin := f.joinToPlan(t, three, func() { f.writeAtomic(t, string(full)) })

	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.2f", float64(a)/float64(b)) }
	rows = append(rows, [4]string{"first pass at 1003 hosts, br0 built anew (start to healthy, slowest host)", fmtDur(fleetFirst), fmtDur(fileFirst), ratio(fleetFirst, fileFirst)},
		[4]string{"steady pass at 1003 hosts (mean of the 3 hosts)", fmtDur(fleetSteady), fmtDur(fileSteady), ratio(fleetSteady, fileSteady)})
	for _, h := range three {
		fl, fi := fleetJoin[h].Sub(fleetStart), fileJoin[h].Sub(fileStart)
		rows = append(rows, [4]string{"join-to-plan at " + h + ": from docker4's start (fleet) or the file's change (file) to its tunnel in the flow table",
			fmtDur(fl), fmtDur(fi), ratio(fl, fi)})
	}
	rows = append(rows, joinRows...)
	rows = append(rows, [4]string{"etcd RSS at the end of the fleet phase", rss, "no etcd", "-"},
		[4]string{"etcd CPU time over the fleet phase", fmtDur(cpu), "no etcd", "-"})
	title := fmt.Sprintf("%d simulated members + 3 real hosts (OVS, netdev, GRE mesh)", scaleSims)
	if pins != nil {
		title += fmt.Sprintf("; %s on CPU %s of its own, the other hosts, etcd and the test on CPUs %s", pins.host, pins.own, pins.rest)
	}
	benchTable(t, title, []string{"measure", "fleet mode", "file mode", "fleet/file"}, rows)
}

// seedSims registers n simulated members at indexes first.. through etcd's
// JSON gateway (record, claims, liveness), 30 per transaction; their liveness
// keys have no lease.
func (f *fleetLab) seedSims(t *testing.T, n, first int) {
	t.Helper()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for lo := 0; lo < n; lo += 30 {
		var ops []map[string]any
		for i := lo; i < min(lo+30, n); i++ {
			name, idx := fmt.Sprintf("sim%04d", i), first+i
			rec, _ := json.Marshal(map[string]any{"name": name, "index": idx, "machine_id": fmt.Sprintf("%032x", i+1),
				"address": fmt.Sprintf("198.19.%d.%d", i/250, 1+i%250)})
			alive, _ := json.Marshal(map[string]string{"machine_id": fmt.Sprintf("%032x", i+1), "since": "2026-01-01T00:00:00Z"})
			addr := fmt.Sprintf("198.19.%d.%d", i/250, 1+i%250)
			for k, v := range map[string]string{"hosts/" + name + "/record": string(rec), fmt.Sprintf("hosts/%s/index/%d", name, idx): "",
				"hosts/" + name + "/address/" + addr: "", "hosts/" + name + "/alive": string(alive)} {
				ops = append(ops, map[string]any{"requestPut": map[string]string{"key": b64("/ovsmesh/" + fleetCluster + "/" + k), "value": b64(v)}})
			}
		}
		body, _ := json.Marshal(map[string]any{"success": ops})
		resp, err := f.http.Post(fleetEtcdURL+"/v3/kv/txn", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("seed simulated members %d..: %s", lo, resp.Status)
		}
	}
}

// scaleStart launches a loop on each host and waits until every one is healthy;
// it returns the slowest host's time from its launch to healthy.
func (f *fleetLab) scaleStart(t *testing.T, hosts []string, launch func(string) *loopProc) (time.Duration, []*loopProc) {
	t.Helper()
	var loops []*loopProc
	for _, h := range hosts {
		loops = append(loops, launch(h))
	}
	took := make([]time.Duration, len(loops))
	var wg sync.WaitGroup
	for i, p := range loops {
		wg.Go(func() {
			poll(5*time.Minute, func() bool {
				code, _, err := p.get("/healthz")
				if err == nil && code == http.StatusOK {
					took[i] = time.Since(p.start)
				}
				return took[i] > 0 || !p.alive()
			})
		})
	}
	wg.Wait()
	var slowest time.Duration
	for i, p := range loops {
		p.mustBeAlive(t)
		if took[i] == 0 {
			t.Fatalf("loop on %s: not healthy within 5 min", p.host)
		}
		t.Logf("loop on %s: healthy %v after its start", p.host, took[i].Round(time.Millisecond))
		slowest = max(slowest, took[i])
	}
	return slowest, loops
}

// steadyPass is the mean time of the passes the loops make in 12 s (no change
// to make: the hosts have converged).
func steadyPass(t *testing.T, loops []*loopProc) time.Duration {
	t.Helper()
	sum := func() (s, n float64) {
		for _, p := range loops {
			m := p.metrics(t)
			s += m["ovsmesh_pass_duration_seconds_sum"]
			n += m["ovsmesh_pass_duration_seconds_count"]
		}
		return s, n
	}
	s0, n0 := sum()
	time.Sleep(12 * time.Second)
	s1, n1 := sum()
	if n1 <= n0 {
		t.Fatalf("no pass in 12 s on %d loops", len(loops))
	}
	return time.Duration((s1 - s0) / (n1 - n0) * float64(time.Second))
}

// joinToPlan runs add (which brings docker4 in) and returns when it started and,
// for each host, when its flow table first had a flow for docker4's tunnel port.
// It watches each host's table with an OpenFlow flow monitor (`ovs-ofctl
// monitor`, one process per host, started before add): ovs-vswitchd tells of
// the flow as it goes in. Polling with dumps instead would load the CPUs the
// hosts share, and a dump waits while ovs-vswitchd adds the port.
func (f *fleetLab) joinToPlan(t *testing.T, hosts []string, add func()) (time.Time, map[string]time.Time) {
	t.Helper()
	match := fmt.Sprintf("in_port=%d", topology.TunnelOFPortBase+4)
	seen := map[string]<-chan time.Time{}
	for _, h := range hosts {
		seen[h] = f.watchFlow(t, h, match)
	}
	start := time.Now()
	add()
	out := map[string]time.Time{}
	for _, h := range hosts {
		select {
		case at := <-seen[h]:
			out[h] = later(at, start)
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: no flow for docker4's tunnel (%s) within 2 min", h, match)
		}
		t.Logf("%s: docker4's tunnel in its flow table %v after docker4 was added", h, out[h].Sub(start).Round(time.Millisecond))
	}
	return start, out
}

// watchFlow starts `ovs-ofctl monitor` of host's br0 and returns a channel that
// receives the time of the first flow of table 0 with match (e.g. in_port=N)
// added (or found there at the start); the monitor is stopped (by its pid)
// when the test ends.
func (f *fleetLab) watchFlow(t *testing.T, host, match string) <-chan time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	// The monitor watches table 0, where every tunnel's flows start, and the
	// lines are filtered here. It prints the reply to its request on stdout
	// (through stdio, which holds it in a buffer when stdout is a pipe: stdbuf)
	// and the events that follow on stderr; both come through one pipe.
	cmd := f.host(host).Command(ctx, "stdbuf", "-oL", "ovs-ofctl", "-O", "OpenFlow14", "monitor", "br0", "watch:table=0")
	out, w, err := os.Pipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		cancel()
		out.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait(); out.Close() })
	ch, ready := make(chan time.Time, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		first, found := true, false
		for sc.Scan() { // to the end: a monitor left unread would stall
			l := sc.Text()
			if first && strings.HasPrefix(l, "OFPST_FLOW_MONITOR reply") {
				first = false
				close(ready)
			}
			if !found && strings.Contains(l, match+",") && (strings.Contains(l, "event=ADDED") || strings.Contains(l, "event=INITIAL")) {
				found = true
				ch <- time.Now()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("ovs-ofctl monitor on %s: no reply within 10 s", host)
	}
	return ch
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// writeAtomic replaces the lab's topology file whole.
func (f *fleetLab) writeAtomic(t *testing.T, text string) {
	t.Helper()
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		t.Fatal(err)
	}
}

func fmtDur(d time.Duration) string { return d.Round(time.Millisecond).String() }

// benchTable logs a table and appends it, as markdown, to the file named by
// OVSMESH_BENCH_TABLE (make bench-fleet prints it).
func benchTable(t *testing.T, title string, head []string, rows [][4]string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n\n| %s |\n|%s\n", title, strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(r[:], " | "))
	}
	t.Log(b.String())
	if path := os.Getenv("OVSMESH_BENCH_TABLE"); path != "" {
		fh, err := os.OpenFile(filepath.Clean(path), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteString(b.String()); err != nil {
			t.Error(err)
		}
		if err := fh.Close(); err != nil {
			t.Error(err)
		}
	}
}

// procRSS and procCPUTime read a process's memory and CPU time from /proc.
func procRSS(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown: " + err.Error()
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func procCPUTime(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Logf("CPU time of pid %d: %v", pid, err)
		return 0
	}
	fields := strings.Fields(string(b)[strings.LastIndex(string(b), ")")+2:])
	var u, s int64
	fmt.Sscan(fields[11], &u)
	fmt.Sscan(fields[12], &s)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ 100
}
