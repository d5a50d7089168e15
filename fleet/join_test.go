package fleet

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestJoinClaimsEachIndexOnceUnderContention(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	const n = 12
	got := make([]Record, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			addr := netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)})
			got[i], errs[i] = c.Join(ctx, fmt.Sprintf("h%d", i), addr, fmt.Sprintf("mid%d", i))
		})
	}
	wg.Wait()
	seen := map[int]string{}
	for i, r := range got {
		if errs[i] != nil {
			t.Fatalf("join h%d: %v", i, errs[i])
		}
		if prev, dup := seen[r.Index]; dup {
			t.Errorf("index %d given to %s and %s", r.Index, prev, r.Name)
		}
		seen[r.Index] = r.Name
	}
	for i := 1; i <= n; i++ {
		if seen[i] == "" {
			t.Errorf("index %d not given: want 1..%d each once, got %v", i, n, seen)
		}
	}
}

func TestJoinKeepsTheIndexAndRefusesAnotherMachine(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	seed := []Record{{Name: "a", Address: netip.MustParseAddr("198.18.0.1"), Index: 5}}
	if err := c.Init(ctx, labNetwork(), seed); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx, labNetwork(), nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second init: got %v, want a refusal", err)
	}
	// The seeded host keeps its index from the file and adopts its machine-id.
	r, err := c.Join(ctx, "a", netip.MustParseAddr("198.18.0.1"), "machine-a")
	if err != nil || r.Index != 5 || r.MachineID != "machine-a" {
		t.Fatalf("join a: %+v, %v; want index 5", r, err)
	}
	b, err := c.Join(ctx, "b", netip.MustParseAddr("198.18.0.2"), "machine-b")
	if err != nil || b.Index != 1 {
		t.Fatalf("join b: %+v, %v; want the smallest free index 1", b, err)
	}
	// Joining again, even from a new address, keeps the index.
	r, err = c.Join(ctx, "a", netip.MustParseAddr("198.18.0.9"), "machine-a")
	if err != nil || r.Index != 5 || r.Address.String() != "198.18.0.9" {
		t.Fatalf("rejoin a: %+v, %v; want index 5 at the new address", r, err)
	}
	// Another machine with the same name is refused and changes nothing.
	if _, err := c.Join(ctx, "a", netip.MustParseAddr("198.18.0.3"), "machine-x"); err == nil || !strings.Contains(err.Error(), "another machine") {
		t.Fatalf("join a from another machine: got %v, want a refusal", err)
	}
	s, err := c.Snapshot(ctx, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Members) != 2 || s.Members[1].Name != "a" || s.Members[1].Address.String() != "198.18.0.9" {
		t.Errorf("members after the refused join: %+v", s.Members)
	}
}

func TestRemoveIsTheOnlyWayAnIndexIsFreed(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b", "c"} {
		if _, err := c.Join(ctx, name, netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), "m-"+name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remove(ctx, "b"); err == nil {
		t.Error("removing b twice: want an error")
	}
	d, err := c.Join(ctx, "d", netip.MustParseAddr("198.18.0.4"), "m-d")
	if err != nil || d.Index != 2 {
		t.Fatalf("join d: %+v, %v; want b's freed index 2", d, err)
	}
}

func TestInsecureEndpointRefusedWithoutTheFlag(t *testing.T) {
	_, err := Connect(Config{Endpoints: []string{"http://127.0.0.1:1"}, Cluster: "x"})
	if err == nil || !strings.Contains(err.Error(), "--etcd-insecure") {
		t.Errorf("got %v, want a refusal naming --etcd-insecure", err)
	}
	if _, err := Connect(Config{Endpoints: []string{"https://127.0.0.1:1"}, Cluster: "a/b"}); err == nil {
		t.Error("cluster name with '/': want an error")
	}
}
