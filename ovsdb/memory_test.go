package ovsdb

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/server"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
)

// memoryServer starts libovsdb's in-process OVSDB server with the Open_vSwitch
// schema and one Open_vSwitch row (as `ovs-vsctl init` would), and returns its
// endpoint and a full-model client that plays the operator.
func memoryServer(t *testing.T) (string, client.Client) {
	t.Helper()
	dbModel, err := vswitchd.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	schema := vswitchd.Schema()
	lg := logr.Discard()
	db := inmemory.NewDatabase(map[string]model.ClientDBModel{schema.Name: dbModel}, &lg)
	dm, errs := model.NewDatabaseModel(schema, dbModel)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	srv, err := server.NewOvsdbServer(db, &lg, dm)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "db.sock")
	go func() {
		if err := srv.Serve("unix", sock); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(srv.Close)
	for i := 0; !srv.Ready(); i++ {
		if i == 100 {
			t.Fatal("in-memory ovsdb server not ready after 1s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	endpoint := "unix:" + sock
	op, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := op.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	if _, err := op.MonitorAll(ctx); err != nil {
		t.Fatal(err)
	}
	ops, err := op.Create(&vswitchd.OpenvSwitch{UUID: "root"})
	mustTransact(t, op, ops, err)
	return endpoint, op
}

func mustTransact(t *testing.T, c client.Client, ops []ovsdb.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Transact(t.Context(), ops...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		t.Fatalf("operator transaction: %v (%v)", err, res)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func connect(t *testing.T, endpoint string, opts ...Option) *Client {
	t.Helper()
	c, err := Connect(t.Context(), endpoint, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// dump renders the database as sorted text, one line per bridge, port and
// interface, with the columns ovsmesh manages and external_ids.
func dump(t *testing.T, c *Client) string {
	t.Helper()
	tb, err := c.readTables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, b := range tb.Bridges {
		lines = append(lines, fmt.Sprintf("bridge %s datapath_type=%s fail_mode=%s stp=%v rstp=%v protocols=%v ports=%d external_ids=%s",
			b.Name, b.DatapathType, deref(b.FailMode), b.STPEnable, b.RSTPEnable, b.Protocols, len(b.Ports), mapText(b.ExternalIDs)))
	}
	for _, p := range tb.Ports {
		lines = append(lines, fmt.Sprintf("port %s interfaces=%d other_config=%s external_ids=%s",
			p.Name, len(p.Interfaces), mapText(p.OtherConfig), mapText(p.ExternalIDs)))
	}
	for _, i := range tb.Ifaces {
		lines = append(lines, fmt.Sprintf("interface %s type=%s options=%s bfd=%s ofport_request=%s mtu_request=%s external_ids=%s",
			i.Name, i.Type, mapText(i.Options), mapText(i.BFD), intText(i.OfportRequest), intText(i.MTURequest), mapText(i.ExternalIDs)))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func mapText(m map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return "{" + strings.Join(kv, ",") + "}"
}

func checkText(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n%s\nwant:\n%s", what, got, want)
	}
}

// TestApplyMemory runs Apply against libovsdb's in-memory server: create from
// empty, a second apply that sends nothing, an operator's foreign port and
// external_ids surviving the removal of a tunnel, and a dry run.
func TestApplyMemory(t *testing.T) {
	endpoint, op := memoryServer(t)
	c := connect(t, endpoint, WithoutVSwitchdWait())
	ctx := t.Context()

	lines, err := c.Apply(ctx, greState(2, 3), false)
	if err != nil {
		t.Fatal(err)
	}
	checkText(t, "first apply", strings.Join(lines, "\n"), strings.Join([]string{
		"create bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 rstp_enable=false stp_enable=false",
		"create port br0 type=internal mtu_request=1462",
		"create port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770",
		"create port gre-docker3 type=gre remote_ip=198.18.0.3 ofport_request=32771",
	}, "\n"))
	checkText(t, "database", dump(t, c), strings.Join([]string{
		"bridge br0 datapath_type=netdev fail_mode=secure stp=false rstp=false protocols=[OpenFlow10 OpenFlow13 OpenFlow14 OpenFlow15] ports=3 external_ids={ovsmesh-owner=docker1}",
		"interface br0 type=internal options={} bfd={} ofport_request= mtu_request=1462 external_ids={ovsmesh-owner=docker1}",
		"interface gre-docker2 type=gre options={remote_ip=198.18.0.2} bfd={} ofport_request=32770 mtu_request= external_ids={ovsmesh-owner=docker1}",
		"interface gre-docker3 type=gre options={remote_ip=198.18.0.3} bfd={} ofport_request=32771 mtu_request= external_ids={ovsmesh-owner=docker1}",
		"port br0 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port gre-docker2 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port gre-docker3 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
	}, "\n"))
	if n := c.Transactions(); n != 1 {
		t.Errorf("first apply sent %d transactions, want 1", n)
	}

	lines, err = c.Apply(ctx, greState(2, 3), false)
	if err != nil || len(lines) > 0 {
		t.Errorf("second apply: %q, %v; want no change", lines, err)
	}
	if n := c.Transactions(); n != 1 {
		t.Errorf("second apply sent %d transactions, want none", n-1)
	}

	addForeignPort(t, op, "br0", "foreign0")
	addBridgeKey(t, op, "br0", "operator-note", "keep me")

	want := greState(2)
	want.Tunnels[0].Key = "42"
	lines, err = c.Apply(ctx, want, true)
	if err != nil || c.Transactions() != 1 {
		t.Fatalf("dry run: %v, %d transactions", err, c.Transactions())
	}
	dry := strings.Join(lines, "\n")
	checkText(t, "dry run", dry, strings.Join([]string{
		"delete port gre-docker3 type=gre remote_ip=198.18.0.3 (no longer in the topology)",
		"update interface gre-docker2 options:key (unset) -> 42",
	}, "\n"))
	lines, err = c.Apply(ctx, want, false)
	if err != nil {
		t.Fatal(err)
	}
	checkText(t, "apply after dry run", strings.Join(lines, "\n"), dry)
	checkText(t, "database after removal", dump(t, c), strings.Join([]string{
		"bridge br0 datapath_type=netdev fail_mode=secure stp=false rstp=false protocols=[OpenFlow10 OpenFlow13 OpenFlow14 OpenFlow15] ports=3 external_ids={operator-note=keep me,ovsmesh-owner=docker1}",
		"interface br0 type=internal options={} bfd={} ofport_request= mtu_request=1462 external_ids={ovsmesh-owner=docker1}",
		"interface foreign0 type=internal options={} bfd={} ofport_request= mtu_request= external_ids={}",
		"interface gre-docker2 type=gre options={key=42,remote_ip=198.18.0.2} bfd={} ofport_request=32770 mtu_request= external_ids={ovsmesh-owner=docker1}",
		"port br0 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port foreign0 interfaces=1 other_config={} external_ids={}",
		"port gre-docker2 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
	}, "\n"))
	if n := c.Transactions(); n != 2 {
		t.Errorf("%d transactions in all, want 2", n)
	}
	if lines, err := c.Apply(ctx, want, false); err != nil || len(lines) > 0 || c.Transactions() != 2 {
		t.Errorf("apply after removal is not a no-op: %q, %v, %d transactions", lines, err, c.Transactions())
	}
}

// bridgeUUID waits until the operator's cache has the bridge.
func bridgeUUID(t *testing.T, op client.Client, name string) string {
	t.Helper()
	for range 100 {
		var brs []vswitchd.Bridge
		err := op.WhereCache(func(b *vswitchd.Bridge) bool { return b.Name == name }).List(t.Context(), &brs)
		if err != nil {
			t.Fatal(err)
		}
		if len(brs) == 1 {
			return brs[0].UUID
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("bridge %q not in the operator's cache", name)
	return ""
}

// addForeignPort adds an internal port without ovsmesh's mark, as
// `ovs-vsctl add-port BRIDGE NAME -- set interface NAME type=internal` would.
func addForeignPort(t *testing.T, op client.Client, bridge, name string) {
	t.Helper()
	iface := &vswitchd.Interface{UUID: "iface_foreign", Name: name, Type: "internal"}
	port := &vswitchd.Port{UUID: "port_foreign", Name: name, Interfaces: []string{iface.UUID}}
	b := &vswitchd.Bridge{UUID: bridgeUUID(t, op, bridge)}
	var ops []ovsdb.Operation
	for _, build := range []func() ([]ovsdb.Operation, error){
		func() ([]ovsdb.Operation, error) { return op.Create(iface) },
		func() ([]ovsdb.Operation, error) { return op.Create(port) },
		func() ([]ovsdb.Operation, error) {
			return op.Where(b).Mutate(b, model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID}})
		},
	} {
		o, err := build()
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, o...)
	}
	mustTransact(t, op, ops, nil)
}

// addBridgeKey sets an operator's external_ids key on the bridge.
func addBridgeKey(t *testing.T, op client.Client, bridge, key, value string) {
	t.Helper()
	b := &vswitchd.Bridge{UUID: bridgeUUID(t, op, bridge)}
	ops, err := op.Where(b).Mutate(b, model.Mutation{Field: &b.ExternalIDs, Mutator: ovsdb.MutateOperationInsert,
		Value: map[string]string{key: value}})
	mustTransact(t, op, ops, err)
}

// TestAdoptMemory checks that a bridge made by hand is refused without a change,
// and adopted with WithTakeOver (columns and owner mark set on it and its internal
// port) while its other port stays as it was, and that a foreign port with the
// name of a wanted tunnel is reported, not taken over, while the rest is applied.
func TestAdoptMemory(t *testing.T) {
	endpoint, op := memoryServer(t)
	ctx := t.Context()
	iface := &vswitchd.Interface{UUID: "iface_br0", Name: "br0", Type: "internal"}
	port := &vswitchd.Port{UUID: "port_br0", Name: "br0", Interfaces: []string{iface.UUID}}
	br := &vswitchd.Bridge{UUID: "bridge_br0", Name: "br0", Ports: []string{port.UUID},
		ExternalIDs: map[string]string{"bridge-id": "br0"}}
	root := &vswitchd.OpenvSwitch{}
	var roots []vswitchd.OpenvSwitch
	if err := op.List(ctx, &roots); err != nil || len(roots) != 1 {
		t.Fatalf("root row: %v %v", roots, err)
	}
	root.UUID = roots[0].UUID
	var ops []ovsdb.Operation
	for _, m := range []model.Model{iface, port, br} {
		o, err := op.Create(m)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, o...)
	}
	o, err := op.Where(root).Mutate(root, model.Mutation{Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{br.UUID}})
	mustTransact(t, op, append(ops, o...), err)
	addForeignPort(t, op, "br0", "gre-docker3")

	refuse := connect(t, endpoint, WithoutVSwitchdWait())
	before := dump(t, refuse)
	lines, err := refuse.Apply(ctx, greState(2, 3), false)
	if !errors.Is(err, ErrForeignBridge) || len(lines) > 0 || refuse.Transactions() != 0 {
		t.Fatalf("apply without take-over: %q, %v, %d transactions; want a refusal and nothing sent", lines, err, refuse.Transactions())
	}
	checkText(t, "refusal", err.Error(), `bridge "br0" was not built by ovsmesh (no external_ids:ovsmesh-owner; its ports: gre-docker3): refusing to change it; pass --take-over to adopt it`)
	checkText(t, "database after the refusal", dump(t, refuse), before)

	c := connect(t, endpoint, WithoutVSwitchdWait(), WithTakeOver())
	lines, err = c.Apply(ctx, greState(2, 3), false)
	checkText(t, "error", fmt.Sprint(err), `create tunnel port "gre-docker3" to 198.18.0.3: port "gre-docker3" on bridge "br0" is not ovsmesh's (no external_ids:ovsmesh-owner), not taking it over`)
	checkText(t, "adoption", strings.Join(lines, "\n"), strings.Join([]string{
		"create port gre-docker2 type=gre remote_ip=198.18.0.2 ofport_request=32770",
		"update bridge br0 datapath_type system -> netdev",
		"update bridge br0 external_ids:ovsmesh-owner (unset) -> docker1",
		"update bridge br0 fail_mode (unset) -> secure",
		"update bridge br0 protocols (unset) -> OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15",
		"update interface br0 external_ids:ovsmesh-owner (unset) -> docker1",
		"update interface br0 mtu_request (unset) -> 1462",
		"update port br0 external_ids:ovsmesh-owner (unset) -> docker1",
	}, "\n"))
	checkText(t, "database", dump(t, c), strings.Join([]string{
		"bridge br0 datapath_type=netdev fail_mode=secure stp=false rstp=false protocols=[OpenFlow10 OpenFlow13 OpenFlow14 OpenFlow15] ports=3 external_ids={bridge-id=br0,ovsmesh-owner=docker1}",
		"interface br0 type=internal options={} bfd={} ofport_request= mtu_request=1462 external_ids={ovsmesh-owner=docker1}",
		"interface gre-docker2 type=gre options={remote_ip=198.18.0.2} bfd={} ofport_request=32770 mtu_request= external_ids={ovsmesh-owner=docker1}",
		"interface gre-docker3 type=internal options={} bfd={} ofport_request= mtu_request= external_ids={}",
		"port br0 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port gre-docker2 interfaces=1 other_config={} external_ids={ovsmesh-owner=docker1}",
		"port gre-docker3 interfaces=1 other_config={} external_ids={}",
	}, "\n"))
	lines, err = c.Apply(ctx, greState(2, 3), false)
	if len(lines) > 0 || err == nil || c.Transactions() != 1 {
		t.Errorf("second apply: %q, %v, %d transactions; want no change, the same error, 1 transaction", lines, err, c.Transactions())
	}
}

// fakeVSwitchd plays ovs-vswitchd against the in-memory server: whenever next_cfg
// moves, it gives every interface its requested ofport (or -1 and an error for a
// tunnel to 192.0.2.66) and sets cur_cfg, in one transaction.
func fakeVSwitchd(t *testing.T, op client.Client) {
	ctx := t.Context()
	done := make(chan struct{})
	t.Cleanup(func() { <-done }) // cleanups run after ctx is cancelled
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
			var roots []vswitchd.OpenvSwitch
			var ifaces []vswitchd.Interface
			if op.List(ctx, &roots) != nil || len(roots) != 1 || roots[0].CurCfg == roots[0].NextCfg || op.List(ctx, &ifaces) != nil {
				continue
			}
			var ops []ovsdb.Operation
			for _, i := range ifaces {
				i.Ofport = i.OfportRequest
				if i.Ofport == nil {
					i.Ofport = ptr(65534)
				}
				if i.Options["remote_ip"] == "192.0.2.66" {
					i.Ofport, i.Error = ptr(-1), ptr("could not add network device "+i.Name)
				}
				o, err := op.Where(&vswitchd.Interface{UUID: i.UUID}).Update(&i, &i.Ofport, &i.Error)
				if err != nil {
					t.Error(err)
					return
				}
				ops = append(ops, o...)
			}
			r := roots[0]
			r.CurCfg = r.NextCfg
			o, err := op.Where(&vswitchd.OpenvSwitch{UUID: r.UUID}).Update(&r, &r.CurCfg)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := op.Transact(ctx, append(ops, o...)...); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	}()
}

// TestVSwitchdWaitMemory checks the wait for ovs-vswitchd: the error when nothing
// applies the configuration, and the interface errors reported once it did.
func TestVSwitchdWaitMemory(t *testing.T) {
	endpoint, op := memoryServer(t)
	ctx := t.Context()
	c := connect(t, endpoint, WithVSwitchdTimeout(300*time.Millisecond))
	lines, err := c.Apply(ctx, greState(2), false)
	if len(lines) != 3 {
		t.Errorf("apply without ovs-vswitchd returned %q, want the 3 changes it made", lines)
	}
	checkText(t, "error without ovs-vswitchd", fmt.Sprint(err),
		"ovs-vswitchd did not apply the configuration within 300ms (next_cfg=1, cur_cfg=0): is ovs-vswitchd running?")

	fakeVSwitchd(t, op)
	want := greState(2, 3, 4)
	want.Tunnels[2].RemoteIP = netip.MustParseAddr("192.0.2.66")
	lines, err = c.Apply(ctx, want, false)
	if len(lines) != 2 {
		t.Errorf("apply returned %q, want 2 changes", lines)
	}
	checkText(t, "error with ovs-vswitchd", fmt.Sprint(err),
		`tunnel port "gre-docker4" to 192.0.2.66: ovs-vswitchd reports: could not add network device gre-docker4 (the next pass recreates it)`)
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range st.Bridges[0].Ports {
		got = append(got, fmt.Sprintf("%s owned=%v type=%s ofport=%d error=%q", p.Name, p.Owned, p.Type, p.OFPort, p.Error))
	}
	checkText(t, "state", fmt.Sprintf("next_cfg=%d cur_cfg=%d\n%s", st.NextCfg, st.CurCfg, strings.Join(got, "\n")), strings.Join([]string{
		"next_cfg=2 cur_cfg=2",
		`br0 owned=true type=internal ofport=65534 error=""`,
		`gre-docker2 owned=true type=gre ofport=32770 error=""`,
		`gre-docker3 owned=true type=gre ofport=32771 error=""`,
		`gre-docker4 owned=true type=gre ofport=-1 error="could not add network device gre-docker4"`,
	}, "\n"))
	if n := c.Transactions(); n != 2 {
		t.Errorf("%d transactions, want 2", n)
	}
}
