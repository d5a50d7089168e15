package fleet

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// fakeCluster builds a viewer's keys by hand: n hosts, all alive.
func fakeCluster(t *testing.T, n int) *viewer {
	t.Helper()
	k := Keys{Cluster: "c"}
	v := newViewer(k, "h1", 3*time.Second, slog.New(slog.DiscardHandler), &Counters{})
	netJSON, _ := json.Marshal(labNetwork())
	v.kvs[k.Network()] = kv{value: netJSON}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		rec, _ := json.Marshal(Record{Name: name, Address: netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), Index: i, MachineID: "m" + name})
		putRecord(v, rec, int64(i))
		setAlive(v, name, true)
	}
	return v
}

// putRecord stores a record and its claims (created at revision rev), as a
// join writes them.
func putRecord(v *viewer, rec []byte, rev int64) {
	var r Record
	if err := json.Unmarshal(rec, &r); err != nil {
		panic(err)
	}
	v.kvs[v.keys.Host(r.Name)] = kv{value: rec, createRev: rev}
	v.kvs[v.keys.IndexClaim(r.Name, r.Index)] = kv{createRev: rev}
	v.kvs[v.keys.AddressClaim(r.Name, r.Address)] = kv{createRev: rev}
}

func setAlive(v *viewer, name string, on bool) {
	if on {
		a, _ := json.Marshal(Alive{MachineID: "m" + name})
		v.kvs[v.keys.Alive(name)] = kv{value: a}
	} else {
		delete(v.kvs, v.keys.Alive(name))
	}
}

func TestHostBackWithinTheGraceChangesNothing(t *testing.T) {
	v := fakeCluster(t, 4)
	t0 := time.Unix(1000, 0)
	first := v.snapshot(t0)
	setAlive(v, "h3", false)
	if s := v.snapshot(t0.Add(time.Second)); string(s.Text) != string(first.Text) {
		t.Errorf("plan changed within the grace:\n%s", s.Text)
	}
	setAlive(v, "h3", true)
	if s := v.snapshot(t0.Add(2 * time.Second)); string(s.Text) != string(first.Text) {
		t.Errorf("plan changed when h3 came back within the grace:\n%s", s.Text)
	}
	setAlive(v, "h3", false)
	v.snapshot(t0.Add(3 * time.Second))
	s := v.snapshot(t0.Add(7 * time.Second))
	if got := planned(s); !slices.Equal(got, []string{"h1", "h2", "h4"}) {
		t.Errorf("after the grace: plan %v, want h3 gone", got)
	}
}

func TestMassLossOfLivenessIsHeld(t *testing.T) {
	v := fakeCluster(t, 5)
	t0 := time.Unix(1000, 0)
	v.snapshot(t0)
	for _, h := range []string{"h2", "h3", "h4"} {
		setAlive(v, h, false)
	}
	v.snapshot(t0.Add(100 * time.Millisecond))
	s := v.snapshot(t0.Add(time.Minute))
	if got := planned(s); len(got) != 5 || s.Held != 3 {
		t.Errorf("3 of 5 hosts vanished at once: plan %v, held %d; want all 5 kept, 3 held", got, s.Held)
	}
	if v.counters.HeldRemovals.Load() != 1 {
		t.Errorf("held removals counted %d, want 1", v.counters.HeldRemovals.Load())
	}
	// One host alone vanishing leaves after the grace.
	w := fakeCluster(t, 5)
	w.snapshot(t0)
	setAlive(w, "h5", false)
	w.snapshot(t0.Add(100 * time.Millisecond))
	if got := planned(w.snapshot(t0.Add(time.Minute))); len(got) != 4 {
		t.Errorf("one host vanished: plan %v, want it gone", got)
	}
}

func TestBadRecordsAreSkipped(t *testing.T) {
	v := fakeCluster(t, 3)
	k := v.keys
	putRecord(v, []byte(`{"name":"x","address":"198.18.0.9","index":2,"machine_id":"mx"}`), 10) // index 2 is h2's
	putRecord(v, []byte(`{"name":"y","address":"198.18.0.1","index":7,"machine_id":"my"}`), 11) // h1's address
	v.kvs[k.Host("z")] = kv{value: []byte(`{"name":"z","address":"198.18.0.3","index":8,"extra":1}`)}
	s := v.snapshot(time.Unix(1000, 0))
	if got := planned(s); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
		t.Errorf("plan %v", got)
	}
	var keys []string
	for _, st := range s.Stale {
		keys = append(keys, st.Key)
	}
	want := []string{k.Host("x"), k.Host("y"), k.Host("z")}
	if !slices.Equal(keys, want) {
		t.Errorf("stale %+v, want %v", s.Stale, want)
	}
	if v.counters.BadRecords.Load() != 3 {
		t.Errorf("counted %d", v.counters.BadRecords.Load())
	}
}

func TestSeededHostsStayInThePlanUntilTheyJoin(t *testing.T) {
	v := fakeCluster(t, 2)
	// h3 was seeded from a topology file and still runs in file mode.
	putRecord(v, []byte(`{"name":"h3","address":"198.18.0.3","index":3,"machine_id":""}`), 3)
	if got := planned(v.snapshot(time.Unix(1000, 0))); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
		t.Errorf("plan %v, want the seeded h3 in it", got)
	}
	// Once joined (it has a machine-id), it follows its liveness like any host.
	putRecord(v, []byte(`{"name":"h3","address":"198.18.0.3","index":3,"machine_id":"mh3"}`), 3)
	if got := planned(v.snapshot(time.Unix(1001, 0))); !slices.Equal(got, []string{"h1", "h2"}) {
		t.Errorf("plan %v, want h3 out (joined, never alive)", got)
	}
}

func TestSameKeysGiveTheSameTopologyFile(t *testing.T) {
	var texts []string
	for range 20 { // fresh maps each time: no dependence on map iteration order
		v := fakeCluster(t, 6)
		s := v.snapshot(time.Unix(1000, 0))
		if s.Err != nil {
			t.Fatal(s.Err)
		}
		texts = append(texts, string(s.Text))
	}
	for i, text := range texts {
		if text != texts[0] {
			t.Fatalf("snapshot %d differs:\n%s\nfrom:\n%s", i, text, texts[0])
		}
	}
}

// The grace of a watch: the default, another one, or none (NoGrace), in which
// case a host leaves the plan as soon as its liveness key is gone.
func TestGraceOptions(t *testing.T) {
	c := &Client{Keys: Keys{Cluster: "lab"}}
	for _, tc := range []struct{ give, want time.Duration }{{0, DefaultGrace}, {10 * time.Second, 10 * time.Second}, {NoGrace, 0}} {
		if got := c.newViewer(ViewOptions{Grace: tc.give}).grace; got != tc.want {
			t.Errorf("ViewOptions.Grace %v: grace %v, want %v", tc.give, got, tc.want)
		}
	}
	v := fakeCluster(t, 3)
	v.grace = 0
	t0 := time.Unix(1000, 0)
	v.snapshot(t0)
	setAlive(v, "h2", false)
	if got := planned(v.snapshot(t0.Add(time.Millisecond))); !slices.Equal(got, []string{"h1", "h3"}) {
		t.Errorf("no grace: plan %v right after h2 lost its liveness, want h2 gone", got)
	}
}

// TestMovedSlices: settings that cut the subnet into other slices name every
// member whose slice moves; the same settings name none.
func TestMovedSlices(t *testing.T) {
	net := map[string]any{"subnet": "172.17.0.0/16", "slice_prefix": 20}
	hosts := []Record{{Name: "a", Address: netip.MustParseAddr("198.18.0.1"), Index: 1}}
	s := Snapshot{Network: net, Members: []Member{{Record: hosts[0]}}}
	same, _, err := Compile("same", net, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if moved := s.MovedSlices(same); len(moved) != 0 {
		t.Errorf("the same settings move %v", moved)
	}
	next, _, err := Compile("next", map[string]any{"subnet": "172.17.0.0/16", "slice_prefix": 24}, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if moved := s.MovedSlices(next); len(moved) != 1 || moved[0] != "a (index 1: 172.17.16.0/20 → 172.17.1.0/24)" {
		t.Errorf("slice_prefix 20 → 24 moves %q", moved)
	}
}
