package fleet

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fileHosts are n hosts as a topology file gives them, indexes 1..n.
func fileHosts(n int) []Record {
	var hosts []Record
	for i := 1; i <= n; i++ {
		hosts = append(hosts, Record{Name: fmt.Sprintf("h%d", i), Address: netip.AddrFrom4([4]byte{198, 18, byte(i / 200), byte(1 + i%200)}), Index: i})
	}
	return hosts
}

// TestInitSeedsMoreHostsThanOneTransactionHolds: a file of 130 hosts (etcd takes
// at most 128 operations in a transaction, and each host is three) is seeded whole.
func TestInitSeedsMoreHostsThanOneTransactionHolds(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.Init(ctx, map[string]any{"encap": "vxlan", "subnet": "10.0.0.0/8", "slice_prefix": 20}, fileHosts(130)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Snapshot(ctx, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Topology == nil || len(s.Members) != 130 || len(s.Topology.Hosts) != 130 {
		t.Fatalf("after seeding 130 hosts: %d members, topology %v (%v)", len(s.Members), s.Topology != nil, s.Err)
	}
	for i, m := range s.Members {
		if m.Index != i+1 || m.Name != fmt.Sprintf("h%d", i+1) {
			t.Fatalf("member %d: %+v, want h%d at index %d", i, m.Record, i+1, i+1)
		}
	}
	if err := c.Init(ctx, labNetwork(), nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second init: %v, want a refusal", err)
	}
}

// TestInitRefusedHalfWayChangesNothing: the second transaction of a seeding
// finds one of its hosts registered: the hosts of the first are removed again
// and the cluster is left as it was.
func TestInitRefusedHalfWayChangesNothing(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	stray := c.Keys.Host(fileHosts(130)[89].Name)
	if _, err := c.etcd.Put(ctx, stray, "someone"); err != nil {
		t.Fatal(err)
	}
	err := c.Init(ctx, map[string]any{"encap": "vxlan", "subnet": "10.0.0.0/8", "slice_prefix": 20}, fileHosts(130))
	if err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("init with host 90 registered: %v, want a refusal", err)
	}
	resp, err := c.etcd.Get(ctx, c.Keys.Prefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != stray {
		var keys []string
		for _, kv := range resp.Kvs {
			keys = append(keys, string(kv.Key))
		}
		t.Errorf("keys after the refused init: %d (%v…), want only %s", len(keys), keys[:min(len(keys), 3)], stray)
	}
}
