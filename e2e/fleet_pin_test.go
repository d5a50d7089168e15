package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ownCore is the lab host that TestFleetScaleWithRealHosts gives a CPU of its
// own (its loop, ovs-vswitchd and ovsdb-server, and their children), as a
// member of a real fleet has its own machine; everything else (the other lab
// hosts, etcd, the test) shares the other CPUs. On a machine of one CPU nothing
// is pinned. OVSMESH_OWN_CORE names another host (docker4: the joiner).
func ownCore() string {
	if h := os.Getenv("OVSMESH_OWN_CORE"); h != "" {
		return h
	}
	return "docker1"
}

// pinning says which CPUs the host with a core of its own (host) and everything
// else run on.
type pinning struct{ host, own, rest string }

// pinFleet pins the test itself (every thread: the processes it starts later
// inherit it), etcd and the lab hosts' daemons; it returns nil on a machine of
// one CPU. The test's own pinning is undone at cleanup.
func (f *fleetLab) pinFleet(t *testing.T) *pinning {
	t.Helper()
	n := runtime.NumCPU()
	if n < 2 {
		t.Logf("one CPU: nothing pinned")
		return nil
	}
	p := &pinning{host: ownCore(), own: strconv.Itoa(n - 1), rest: fmt.Sprintf("0-%d", n-2)}
	pin(t, os.Getpid(), p.rest)
	t.Cleanup(func() { pin(t, os.Getpid(), fmt.Sprintf("0-%d", n-1)) })
	pin(t, f.etcd.Process.Pid, p.rest)
	for _, h := range f.lab.Hosts() {
		cpus := p.rest
		if h.Name == p.host {
			cpus = p.own
		}
		for _, d := range []string{"ovsdb-server", "ovs-vswitchd"} {
			b, err := os.ReadFile(filepath.Join(h.RunDir, d+".pid"))
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s's %s pidfile: %v", h.Name, d, err)
			}
			pin(t, pid, cpus)
		}
	}
	t.Logf("%s runs on CPU %s, everything else on CPUs %s", p.host, p.own, p.rest)
	return p
}

// loop pins a loop just started on its host's CPUs.
func (p *pinning) loop(t *testing.T, l *loopProc) *loopProc {
	t.Helper()
	if p != nil && l.host == p.host {
		pin(t, l.pid(), p.own)
	}
	return l
}

// pin sets the CPU affinity of every thread of pid (taskset -a).
func pin(t *testing.T, pid int, cpus string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		t.Fatalf("taskset -a -p -c %s %d: %v: %s", cpus, pid, err, out)
	}
}
