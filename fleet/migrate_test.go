package fleet

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMigrateKeepsIndexesAndAddresses: a fleet of the layout before per-host
// keys (hosts/<name>, index/<n>, alive/<name>) is converted with every index and
// address kept; the converted hosts are seeded (no machine-id: in every plan
// until they join) and a join adopts its record; a bad old record is left.
func TestMigrateKeepsIndexesAndAddresses(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	netJSON, _ := json.Marshal(labNetwork())
	ops := []clientv3.Op{clientv3.OpPut(c.Keys.Network(), string(netJSON))}
	old := []Record{
		{Name: "a", Address: netip.MustParseAddr("198.18.0.1"), Index: 3, MachineID: "ma"},
		{Name: "b", Address: netip.MustParseAddr("198.18.0.2"), Index: 1, MachineID: "mb"},
	}
	for _, r := range old {
		rec, _ := json.Marshal(r)
		ops = append(ops, clientv3.OpPut(c.Keys.oldHost(r.Name), string(rec)), clientv3.OpPut(c.Keys.oldIndexes()+itoa(r.Index), r.Name),
			clientv3.OpPut(c.Keys.oldAlive()+r.Name, `{"machine_id":"`+r.MachineID+`","since":"x"}`))
	}
	ops = append(ops, clientv3.OpPut(c.Keys.oldHost("bad"), `{"name":"bad"`))
	if _, err := c.etcd.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(ctx, "a", netip.MustParseAddr("198.18.0.1"), "ma"); err == nil || !strings.Contains(err.Error(), "fleet migrate") {
		t.Fatalf("join before the migration: %v, want a refusal naming fleet migrate", err)
	}
	moved, left, err := c.Migrate(ctx)
	if err != nil || len(moved) != 2 || len(left) != 1 || left[0].Key != c.Keys.oldHost("bad") {
		t.Fatalf("migrate: moved %+v, left %+v, %v", moved, left, err)
	}
	s, err := c.Snapshot(ctx, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := planned(s); strings.Join(got, ",") != "b,a" {
		t.Errorf("plan after the migration %v, want b (index 1) and a (index 3), both seeded", got)
	}
	r, err := c.Join(ctx, "a", netip.MustParseAddr("198.18.0.1"), "ma")
	if err != nil || r.Index != 3 || r.MachineID != "ma" {
		t.Errorf("join after the migration: %+v, %v; want index 3 adopted", r, err)
	}
	resp, err := c.etcd.Get(ctx, c.Keys.oldIndexes(), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Errorf("old index keys left: %v %v", resp.Count, err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
