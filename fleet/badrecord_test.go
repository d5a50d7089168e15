package fleet

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOneBadRecordNeverFreezesTheFleet: each record that cannot be part of a
// valid view is skipped with its reason and counted, the rest of the fleet keeps
// its view, and a host that joins afterwards is in it.
func TestOneBadRecordNeverFreezesTheFleet(t *testing.T) {
	long := strings.Repeat("x", 64)
	for _, tc := range []struct{ name, record, reason string }{
		{"IPv6 host in an IPv4 fleet", `{"name":"bad","address":"2001:db8::9","index":9,"machine_id":"mb"}`, "IPv6, the fleet's underlay is IPv4"},
		{"address inside the container subnet", `{"name":"bad","address":"172.30.5.9","index":9,"machine_id":"mb"}`, "lies inside network.subnet 172.30.0.0/16"},
		{"64-byte host name", `{"name":"` + long + `","address":"198.18.0.9","index":9,"machine_id":"mb"}`, "not a host name"},
		{"index beyond the address plan", `{"name":"bad","address":"198.18.0.9","index":300,"machine_id":"mb"}`, "300 does not fit"},
		{"seeded, never alive, address in the subnet", `{"name":"bad","address":"172.30.9.9","index":9,"machine_id":""}`, "lies inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := fakeCluster(t, 3)
			putRecord(v, []byte(tc.record), 50)
			bad := v.keys.Host("bad")
			if strings.Contains(tc.record, long) {
				bad = v.keys.Host(long)
			} else if !strings.Contains(tc.record, `"machine_id":""`) {
				setAlive(v, "bad", true)
			}
			t0 := time.Unix(1000, 0)
			s := v.snapshot(t0)
			if got := planned(s); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
				t.Fatalf("plan %v (err %v), want h1 h2 h3", got, s.Err)
			}
			if len(s.Stale) != 1 || s.Stale[0].Key != bad || !strings.Contains(s.Stale[0].Reason, tc.reason) {
				t.Errorf("stale %+v, want %s with a reason containing %q", s.Stale, bad, tc.reason)
			}
			// A host that joins afterwards is in the view.
			putRecord(v, []byte(`{"name":"h4","address":"198.18.0.4","index":4,"machine_id":"mh4"}`), 60)
			setAlive(v, "h4", true)
			s = v.snapshot(t0.Add(time.Second))
			if got := planned(s); !slices.Equal(got, []string{"h1", "h2", "h3", "h4"}) {
				t.Errorf("after h4 joined: plan %v (err %v)", got, s.Err)
			}
			if n := v.counters.BadRecords.Load(); n != 1 {
				t.Errorf("bad records counted %d, want 1 (once, not once per snapshot)", n)
			}
		})
	}
}

// TestADuplicateAddressNeverDisplacesTheFirst: a0 (a name that sorts first)
// registers h2's address later: h2 keeps its place; after a0 is gone, too.
func TestADuplicateAddressNeverDisplacesTheFirst(t *testing.T) {
	v := fakeCluster(t, 3)
	putRecord(v, []byte(`{"name":"a0","address":"198.18.0.2","index":4,"machine_id":"ma0"}`), 40)
	setAlive(v, "a0", true)
	t0 := time.Unix(1000, 0)
	s := v.snapshot(t0)
	if got := planned(s); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
		t.Errorf("plan %v, want h2 kept and a0 out", got)
	}
	if len(s.Stale) != 1 || !strings.Contains(s.Stale[0].Reason, "registered first by h2") {
		t.Errorf("stale %+v", s.Stale)
	}
	setAlive(v, "a0", false)
	if got := planned(v.snapshot(t0.Add(time.Minute))); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
		t.Errorf("after a0 died: plan %v", got)
	}
}

// TestTheFleetsFamilyIsThatOfMostHosts: one host cannot turn an IPv4 fleet into
// an IPv6 one by moving its own record, even the host registered first.
func TestTheFleetsFamilyIsThatOfMostHosts(t *testing.T) {
	v := fakeCluster(t, 3)
	putRecord(v, []byte(`{"name":"h1","address":"2001:db8::1","index":1,"machine_id":"mh1"}`), 1) // h1 is the first registered
	s := v.snapshot(time.Unix(1000, 0))
	if got := planned(s); !slices.Equal(got, []string{"h2", "h3"}) {
		t.Errorf("plan %v, want h1 (now IPv6) out", got)
	}
}

// TestHostsThatDoNotFitTogetherLeaveTheLastRegistered: hosts each valid alone
// but not together (here two with one index, which the claims normally prevent)
// keep the host registered first, whatever the names.
func TestHostsThatDoNotFitTogetherLeaveTheLastRegistered(t *testing.T) {
	v := fakeCluster(t, 0)
	v.registered = map[string]int64{"b": 10, "a": 20, "c": 30}
	hosts := []Record{
		{Name: "a", Address: netip.MustParseAddr("198.18.0.1"), Index: 1},
		{Name: "b", Address: netip.MustParseAddr("198.18.0.2"), Index: 1},
		{Name: "c", Address: netip.MustParseAddr("198.18.0.3"), Index: 3},
	}
	keep, stale := v.compatible("test", labNetwork(), hosts)
	var names []string
	for _, h := range keep {
		names = append(names, h.Name)
	}
	if !slices.Equal(names, []string{"b", "c"}) || len(stale) != 1 || stale[0].Key != v.keys.Host("a") {
		t.Errorf("kept %v, stale %+v: want b (registered first) and c, a stale", names, stale)
	}
}

// TestAHostCutOffFromEtcdIsKeptWhileItsDataPathIsUp: past its liveness grace, a
// host whose data path (BFD) is up stays in the plan; it leaves when the data
// path goes down too. A host never seen alive is not kept by its data path.
func TestAHostCutOffFromEtcdIsKeptWhileItsDataPathIsUp(t *testing.T) {
	v := fakeCluster(t, 4)
	up := map[string]bool{"h3": true, "h4": true}
	v.dataPathUp = func(r Record) bool { return up[r.Name] }
	t0 := time.Unix(1000, 0)
	v.snapshot(t0)
	setAlive(v, "h3", false)
	v.snapshot(t0.Add(time.Second))
	s := v.snapshot(t0.Add(time.Minute))
	if got := planned(s); !slices.Equal(got, []string{"h1", "h2", "h3", "h4"}) || s.KeptByDataPath != 1 {
		t.Errorf("h3 cut off from etcd, BFD up: plan %v, kept %d; want h3 kept", got, s.KeptByDataPath)
	}
	if at := v.next(t0.Add(time.Minute)); at.IsZero() || at.Sub(t0.Add(time.Minute)) > dataPathPoll {
		t.Errorf("next computation at %v: want within %v while a host is kept by its data path", at, dataPathPoll)
	}
	up["h3"] = false
	if got := planned(v.snapshot(t0.Add(61 * time.Second))); !slices.Equal(got, []string{"h1", "h2", "h4"}) {
		t.Errorf("h3's data path down too: plan %v, want h3 gone", got)
	}
	putRecord(v, []byte(`{"name":"h5","address":"198.18.0.5","index":5,"machine_id":"mh5"}`), 50)
	up["h5"] = true
	if got := planned(v.snapshot(t0.Add(62 * time.Second))); slices.Contains(got, "h5") {
		t.Errorf("h5, never alive: plan %v, want it out whatever its data path", got)
	}
}
