package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFleetBadRecordNeverFreezesTheFleet: a host that would make every view
// invalid (a 64-byte name) is refused by apply --etcd, saying why; a record that
// cannot be part of a valid view written into etcd anyway (a seeded host, never
// alive, with an address inside the container subnet) is skipped, counted and
// shown by fleet status with its reason; a host that joins afterwards is in
// every view, with its tunnels.
func TestFleetBadRecordNeverFreezesTheFleet(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	two := []string{"docker1", "docker2"}
	loops := map[string]*loopProc{}
	for _, h := range two {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitMembers(t, two, two)

	// docker3's service under a 64-byte name: refused at its join, it exits.
	long := strings.Repeat("x", 64)
	p := launchLoop(t, f.cluster, "docker3", loopOpts{fleet: f, args: []string{"--host", long, "--lease-ttl", fleetTTL}})
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("apply --etcd --host (64 bytes) still runs after 20s, want it refused at its join")
	}
	if out := p.out.String(); !strings.Contains(out, "join refused") || !strings.Contains(out, "not a host name") {
		t.Errorf("apply --etcd --host (64 bytes): %v, want a refusal saying why:\n%s", p.err, out)
	}
	t.Logf("the 64-byte name refused: %s", tail(p.out.String(), 1))

	bad := "/ovsmesh/" + fleetCluster + "/hosts/bad/"
	f.etcdPut(t, bad+"index/9", "")
	f.etcdPut(t, bad+"address/172.17.3.9", "")
	f.etcdPut(t, bad+"record", `{"name":"bad","address":"172.17.3.9","index":9,"machine_id":""}`)

	launchLoop(t, f.cluster, "docker4", loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	three := []string{"docker1", "docker2", "docker4"}
	took := f.waitMembers(t, three, three)
	t.Logf("docker4 in every view, with its tunnels, %v after it was healthy", took.Round(time.Millisecond))
	st := f.status(t)
	if len(st.Stale) != 1 || st.Stale[0].Key != bad+"record" || !strings.Contains(st.Stale[0].Reason, "lies inside network.subnet") {
		t.Errorf("fleet status stale %+v, want %srecord with its reason", st.Stale, bad)
	}
	for _, h := range two {
		if got := loops[h].metric(t, "ovsmesh_fleet_bad_records_total"); got != 1 {
			t.Errorf("%s: ovsmesh_fleet_bad_records_total %v, want 1", h, got)
		}
	}
	for _, m := range st.Members {
		if m.Name == long || m.Name == "bad" {
			t.Errorf("member %q in fleet status", m.Name)
		}
	}
	f.pingAll(t, f.containers(t, three))
}

// TestFleetSecondOvsmeshNeverDisturbsTheService: a one-shot apply --etcd beside
// the running service is refused by the host lock before it touches the fleet,
// and a liveness key deleted behind the service's back is put back: the other
// hosts never drop the host.
func TestFleetSecondOvsmeshNeverDisturbsTheService(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	two := []string{"docker1", "docker2"}
	loops := map[string]*loopProc{}
	for _, h := range two {
		loops[h] = launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: []string{"--lease-ttl", fleetTTL}, wait: true})
	}
	f.waitMembers(t, two, two)

	out, err := f.fleetOnce("docker1", "--lease-ttl", fleetTTL)
	if err == nil || !strings.Contains(out, "is held by another ovsmesh") {
		t.Errorf("one-shot apply --etcd beside the service: %v, want the lock's refusal:\n%s", err, out)
	}
	f.keepsMember(t, "docker2", "docker1", 10*time.Second) // TTL 3 s + grace 3 s, and more

	f.etcdDelete(t, "/ovsmesh/"+fleetCluster+"/hosts/docker1/alive")
	if _, ok := poll(10*time.Second, func() bool { return loops["docker1"].metric(t, "ovsmesh_fleet_liveness_restored_total") == 1 }); !ok {
		t.Error("docker1 did not count its liveness key put back")
	}
	f.keepsMember(t, "docker2", "docker1", 8*time.Second)
	if n := len(loops["docker1"].logs(t, 0, "fleet liveness: this host's liveness key was deleted by someone else (another ovsmesh with this host's identity?): putting it back on this host's lease")); n != 1 {
		t.Errorf("docker1 logged the deleted liveness key %d times, want 1", n)
	}
}

// keepsMember fails unless host's view has member, with its tunnel, all along d.
func (f *fleetLab) keepsMember(t *testing.T, host, member string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		v := f.viewHosts(host)
		if v == nil {
			continue
		}
		if _, err := v.Host(member); err != nil || !f.hasTunnelTo(host, member) {
			t.Fatalf("%s dropped %s", host, member)
		}
	}
}

// etcdDelete deletes a key through etcd's JSON gateway.
func (f *fleetLab) etcdDelete(t *testing.T, key string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(key))})
	resp, err := f.http.Post(fleetEtcdURL+"/v3/kv/deleterange", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("etcd delete %s: %s", key, resp.Status)
	}
}
