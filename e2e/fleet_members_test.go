package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFleetEtcdMemberLoss: the fleet's etcd is a cluster of three members and
// the hosts are given all three endpoints; the member at the first endpoint
// dies (SIGKILL): the views stay as they were, the containers keep pinging and
// a fourth host still joins.
func TestFleetEtcdMemberLoss(t *testing.T) {
	f := newFleetLabN(t, fleetNetwork, 3)
	three := []string{"docker1", "docker2", "docker3"}
	for _, h := range three {
		launchLoop(t, f.cluster, h, loopOpts{fleet: f, wait: true})
	}
	f.waitMembers(t, three, three)
	cts := f.containers(t, three)
	f.pingAll(t, cts)
	before := f.status(t)

	lost := time.Now()
	f.stopEtcd(t)                // the member at fleetEtcdURL, the first endpoint of every host
	time.Sleep(12 * time.Second) // longer than the default lease TTL (10 s) and the grace
	for _, h := range three {
		if v := f.viewHosts(h); v == nil || len(v.Hosts) != 3 {
			t.Errorf("%s: view after losing a member: %v, want the 3 hosts", h, v)
		}
	}
	f.pingAll(t, cts)
	after := f.status(t)
	for _, h := range three {
		if after.index(h) != before.index(h) {
			t.Errorf("%s: index %d after losing a member, had %d", h, after.index(h), before.index(h))
		}
	}

	start := time.Now()
	launchLoop(t, f.cluster, "docker4", loopOpts{fleet: f, wait: true})
	all := append(three, "docker4")
	f.waitMembers(t, all, all)
	t.Logf("one etcd member of three lost %v ago: docker4 joined, in every view with its tunnels %v after its start",
		time.Since(lost).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	f.pingAll(t, append(cts, f.containers(t, []string{"docker4"})...))
}

// startMembers starts one etcd per endpoint in the underlay namespace, each with
// its own name, data directory and peer port on the namespace's loopback.
func (f *fleetLab) startMembers(t *testing.T) {
	t.Helper()
	var initial []string
	for i := range f.endpoints {
		initial = append(initial, fmt.Sprintf("lab%d=http://127.0.0.1:%d", i, 2380+2*i))
	}
	for i, url := range f.endpoints {
		peer := fmt.Sprintf("http://127.0.0.1:%d", 2380+2*i)
		cmd := exec.Command("ip", "netns", "exec", f.lab.UnderlayNS, "etcd", "--name", fmt.Sprintf("lab%d", i),
			"--data-dir", filepath.Join(f.dir, fmt.Sprintf("etcd%d", i)),
			"--listen-client-urls", url, "--advertise-client-urls", url,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new")
		logf, err := os.OpenFile(filepath.Join(f.dir, "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		err = cmd.Start()
		logf.Close()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.etcd = cmd
		} else {
			f.others = append(f.others, cmd)
		}
	}
}

// stopOthers kills the members other than the first, by pid.
func (f *fleetLab) stopOthers() {
	for _, cmd := range f.others {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	f.others = nil
}
