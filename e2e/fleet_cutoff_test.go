package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// fleetBFDNetwork is fleetNetwork with BFD on every tunnel.
const fleetBFDNetwork = fleetNetwork + "  bfd: true\n"

// fleetCutoff is how long docker3 cannot reach etcd: far longer than the lease
// TTL and the grace.
const fleetCutoff = 20 * time.Second

// TestFleetHostCutOffFromEtcdKeepsItsTunnels: docker3 loses its etcd connection
// (a firewall rule in its namespace drops what it sends to etcd) while its
// underlay works: its lease expires, and the other hosts keep it in their plans
// because their BFD sessions with it are up; the containers' pings across the
// three hosts lose nothing. When docker3 reaches etcd again it is alive again.
func TestFleetHostCutOffFromEtcdKeepsItsTunnels(t *testing.T) {
	testenv.RequireBinary(t, "nft", "nftables")
	f := newFleetLab(t, fleetBFDNetwork)
	three := []string{"docker1", "docker2", "docker3"}
	loops := map[string]*loopProc{}
	for _, h := range three {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitMembers(t, three, three)
	cts := f.containers(t, three)
	f.pingAll(t, cts)
	regrants := loops["docker3"].metric(t, "ovsmesh_fleet_lease_regrants_total")

	count := int((time.Second + fleetCutoff + 5*time.Second) / (100 * time.Millisecond))
	var pings []*pinger
	for i, ct := range cts {
		pings = append(pings, startPinger(t, ct, cts[(i+1)%len(cts)].Addr.Addr(), 100*time.Millisecond, count))
	}
	time.Sleep(time.Second)
	f.cutFromEtcd(t, "docker3")
	cut := time.Now()
	f.keepsMember(t, "docker1", "docker3", fleetCutoff)
	f.keepsMember(t, "docker2", "docker3", 0)
	for _, h := range []string{"docker1", "docker2"} {
		if got := loops[h].metric(t, "ovsmesh_fleet_kept_by_data_path_hosts"); got != 1 {
			t.Errorf("%s: ovsmesh_fleet_kept_by_data_path_hosts %v after %v without etcd on docker3, want 1", h, got, fleetCutoff)
		}
		if l := loops[h].logs(t, 0, "fleet host lost its liveness but this host's data path to it is up (BFD): kept in the plan while it stays up"); len(l) != 1 {
			t.Errorf("%s: logged docker3 kept by its data path %d times, want 1", h, len(l))
		} else {
			t.Logf("%s kept docker3 by its data path %v after the cut", h, l[0].Time.Sub(cut).Round(time.Millisecond))
		}
	}
	f.uncutFromEtcd(t, "docker3")
	if _, ok := poll(20*time.Second, func() bool {
		return loops["docker3"].metric(t, "ovsmesh_fleet_lease_regrants_total") > regrants &&
			loops["docker1"].metric(t, "ovsmesh_fleet_kept_by_data_path_hosts") == 0
	}); !ok {
		t.Error("docker3 not alive again within 20s of reaching etcd again")
	}
	for _, p := range pings {
		sent, recv := p.wait(t)
		t.Logf("ping %s -> %s every 0.1 s through docker3's %v without etcd: %d sent, %d lost", p.from, p.to, fleetCutoff, sent, sent-recv)
		if sent != count || recv != sent {
			t.Errorf("ping %s -> %s: %d sent, %d received: want all %d answered", p.from, p.to, sent, recv, count)
		}
	}
}

// cutFromEtcd drops, in host's namespace, everything it sends to the lab's etcd.
func (f *fleetLab) cutFromEtcd(t *testing.T, host string) {
	t.Helper()
	h := f.host(host)
	for _, args := range [][]string{
		{"nft", "add", "table", "inet", "cutetcd"},
		{"nft", "add chain inet cutetcd out { type filter hook output priority 0; policy accept; }"},
		{"nft", "add", "rule", "inet", "cutetcd", "out", "ip", "daddr", fleetEtcdAddr, "drop"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := h.Command(ctx, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v: %v: %s", host, args, err, out)
		}
	}
	t.Cleanup(func() { f.uncutFromEtcd(t, host) })
}

func (f *fleetLab) uncutFromEtcd(t *testing.T, host string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = f.host(host).Command(ctx, "nft", "delete", "table", "inet", "cutetcd").Run()
}
