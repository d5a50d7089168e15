package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestScaleThousandMembers (OVSMESH_SCALE=1, `make bench-fleet`): 1000 simulated
// members register and keep their liveness; it logs one view pass at 1000
// members against compiling the same topology file (file mode), the time from
// one more host's join to its presence in a watcher's view, and etcd's RSS and
// CPU time. It asserts what it measures is a complete view, never timings.
func TestScaleThousandMembers(t *testing.T) {
	if os.Getenv("OVSMESH_SCALE") != "1" {
		t.Skip("set OVSMESH_SCALE=1 (make bench-fleet)")
	}
	c := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	net := map[string]any{"encap": "vxlan", "subnet": "10.0.0.0/8", "slice_prefix": 20, "datapath": "netdev"}
	if err := c.Init(ctx, net, nil); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const n = 1000
	cpu0 := procCPU(t)
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 { // 16 hosts joining at once, all the time
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name, id := fmt.Sprintf("sim%04d", i), fmt.Sprintf("%032x", i+1)
				addr := netip.AddrFrom4([4]byte{198, 19, byte(i / 250), byte(1 + i%250)})
				if _, err := c.Join(ctx, name, addr, id); err != nil {
					t.Errorf("join %s: %v", name, err)
					continue
				}
				go c.KeepAlive(ctx, name, id, 10*time.Second, log, nil)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	joins := time.Since(start)
	t.Logf("%d members joined in %v", n, joins.Round(time.Millisecond))
	var s Snapshot
	if _, ok := poll(60*time.Second, func() bool {
		var err error
		s, err = c.Snapshot(ctx, ViewOptions{Log: log})
		return err == nil && s.Topology != nil && len(s.Topology.Hosts) == n
	}); !ok {
		t.Fatalf("view never had the %d members (last: %v)", n, s.Err)
	}
	const passes = 5
	t0 := time.Now()
	for range passes {
		if s, _ = c.Snapshot(ctx, ViewOptions{Log: log}); s.Topology == nil || len(s.Topology.Hosts) != n {
			t.Fatalf("pass at %d members: %v", n, s.Err)
		}
	}
	fleetPass := time.Since(t0) / passes
	t0 = time.Now()
	for range passes {
		if _, err := topology.Compile("file", s.Text); err != nil {
			t.Fatal(err)
		}
	}
	filePass := time.Since(t0) / passes
	t.Logf("one pass at %d members: fleet (read etcd + compile) %v, file mode (compile the same file) %v, ratio %.1f",
		n, fleetPass.Round(time.Microsecond), filePass.Round(time.Microsecond), float64(fleetPass)/float64(filePass))

	seen := make(chan time.Time, 1)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go c.Watch(wctx, ViewOptions{Log: log}, func(s Snapshot) {
		if s.Topology != nil && len(s.Topology.Hosts) == n+1 {
			select {
			case seen <- time.Now():
			default:
			}
		}
	})
	time.Sleep(2 * time.Second) // the watcher's first read
	joined := time.Now()
	var joinToView time.Duration
	if _, err := c.Join(ctx, "real", netip.MustParseAddr("198.18.0.1"), strings.Repeat("a", 32)); err != nil {
		t.Fatal(err)
	}
	go c.KeepAlive(ctx, "real", strings.Repeat("a", 32), 10*time.Second, log, nil)
	select {
	case at := <-seen:
		joinToView = at.Sub(joined)
		t.Logf("join-to-view at %d members: %v", n, joinToView.Round(time.Millisecond))
	case <-time.After(60 * time.Second):
		t.Fatal("the joined host never reached the watcher's view")
	}
	rss, cpu := procRSS(t), procCPU(t)-cpu0
	t.Logf("etcd: RSS %s, CPU time %v over the run", rss, cpu.Round(time.Millisecond))
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	writeTable(t, fmt.Sprintf("%d simulated members on one etcd on loopback (no OVS)", n), [][3]string{
		{fmt.Sprintf("%d joins, 16 at a time", n), ms(joins), "-"},
		{fmt.Sprintf("one view pass at %d members (fleet: read etcd + compile; file: compile the same file)", n),
			fleetPass.Round(time.Microsecond).String(), filePass.Round(time.Microsecond).String()},
		{"one more host's join to a watching host's view", ms(joinToView), "-"},
		{"etcd RSS at the end", rss, "-"},
		{"etcd CPU time over the run", ms(cpu), "-"},
	})
}

// writeTable logs a table and appends it, as markdown, to the file named by
// OVSMESH_BENCH_TABLE (make bench-fleet prints it).
func writeTable(t *testing.T, title string, rows [][3]string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n\n| measure | fleet mode | file mode |\n|---|---|---|\n", title)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(r[:], " | "))
	}
	t.Log(b.String())
	if path := os.Getenv("OVSMESH_BENCH_TABLE"); path != "" {
		if err := appendFile(path, b.String()); err != nil {
			t.Error(err)
		}
	}
}

func appendFile(path, text string) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fh.WriteString(text)
	return errors.Join(err, fh.Close())
}

func poll(within time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(start), false
}

// procRSS and procCPU read etcd's memory and CPU time from /proc.
func procRSS(t *testing.T) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", testEtcd.cmd.Process.Pid))
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "unknown"
}

func procCPU(t *testing.T) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", testEtcd.cmd.Process.Pid))
	if err != nil {
		t.Logf("etcd's CPU time: %v", err)
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndex(string(b), ")")+2:])
	var u, s int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &s)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ 100
}
