package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFleetOneShotApply: a one-shot `apply --etcd` (no --interval) joins, makes
// one pass and warns that it does not keep the host in the fleet; the looping
// hosts plan it until its lease (10 s) expires and their grace has passed, then drop
// it; the same host then run as a service gets its index back and is in every
// plan again.
func TestFleetOneShotApply(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	two := []string{"docker1", "docker2"}
	for _, h := range two {
		launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitMembers(t, two, two)

	out, err := f.fleetOnce("docker3") // the default lease TTL: 10 s
	if err != nil {
		t.Fatalf("one-shot apply --etcd on docker3: %v\n%s", err, out)
	}
	done := time.Now()
	if !strings.Contains(out, "a one-shot apply keeps this host in the other hosts' plans only until its liveness lease expires") {
		t.Errorf("one-shot apply --etcd did not warn that the host leaves the fleet:\n%s", out)
	}
	index := f.status(t).index("docker3")
	if v := f.viewHosts("docker3"); v == nil || len(v.Hosts) != 3 || !f.hasTunnelTo("docker3", "docker1") {
		t.Errorf("docker3 after its one-shot apply: view %v, want the 3 hosts and their tunnels", v)
	}
	all := append(slices.Clone(two), "docker3")
	if _, ok := poll(8*time.Second, func() bool {
		for _, h := range two {
			if v := f.viewHosts(h); v == nil || len(v.Hosts) != 3 {
				return false
			}
		}
		return true
	}); !ok {
		t.Errorf("the looping hosts never planned docker3 after its one-shot apply")
	}
	t.Logf("docker3's one-shot apply: %s", strings.TrimSpace(out))
	f.waitMembers(t, two, two)
	t.Logf("the looping hosts dropped docker3 %v after its one-shot apply ended (lease TTL 10s + grace 3s)", time.Since(done).Round(time.Millisecond))

	launchLoop(t, f.cluster, "docker3", loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	f.waitMembers(t, all, all)
	if got := f.status(t).index("docker3"); got != index {
		t.Errorf("docker3 as a service has index %d, had %d after its one-shot apply", got, index)
	}
}

// fleetOnce runs a one-shot `apply --etcd` on host with the lab's files.
func (f *fleetLab) fleetOnce(host string, extra ...string) (string, error) {
	h := f.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{ovsmeshBin, "apply", "--host", host, "--db", h.DB(),
		"--interfaces", filepath.Join(f.dir, host, "interfaces"), "--daemon-json", filepath.Join(f.dir, host, "daemon.json"),
		"--address", h.Underlay.String(), "--machine-id-file", f.machineID(host), "--view-file", f.viewFile(host)}, f.etcdFlags()...)
	out, err := h.Command(ctx, append(argv, extra...)...).CombinedOutput()
	return string(out), err
}
