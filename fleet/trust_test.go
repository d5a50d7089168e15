package fleet

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// trustLab is an etcd with mutual TLS and authentication on, whose users are
// made by the commands of Grant and GrantOperator, run through etcdctl as
// etcd's root user.
type trustLab struct {
	t   *testing.T
	ca  *testCA
	url string
}

func newTrustLab(t *testing.T, cluster string, hosts ...string) *trustLab {
	t.Helper()
	testenv.RequireBinary(t, "etcdctl", "etcd-client")
	ca := newTestCA(t)
	l := &trustLab{t: t, ca: ca, url: startTLSEtcd(t, ca)}
	cmds := []string{"etcdctl user add root --no-password", "etcdctl role add root", "etcdctl user grant-role root root"}
	op, err := GrantOperator(cluster, DefaultOperator, []string{l.url})
	if err != nil {
		t.Fatal(err)
	}
	cmds = append(cmds, op...)
	for _, h := range hosts {
		g, err := Grant(cluster, h, []string{l.url})
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, g...)
	}
	for _, line := range append(cmds, "etcdctl auth enable") {
		l.etcdctl(line)
	}
	return l
}

// etcdctl runs one command line (as Grant prints it) as etcd's root user.
func (l *trustLab) etcdctl(line string) {
	l.t.Helper()
	args := strings.Fields(line)
	if args[0] != "etcdctl" {
		l.t.Fatalf("%q does not begin with etcdctl", line)
	}
	cert, key := l.ca.issue(l.t, "root", 90)
	cmd := exec.Command("etcdctl", args[1:]...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3", "ETCDCTL_CACERT="+filepath.Join(l.ca.dir, "ca.pem"), "ETCDCTL_CERT="+cert, "ETCDCTL_KEY="+key)
	if !strings.Contains(line, "--endpoints=") {
		cmd.Env = append(cmd.Env, "ETCDCTL_ENDPOINTS="+l.url)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("%s: %v\n%s", line, err, out)
	}
}

// connect connects with a client certificate whose common name is user.
func (l *trustLab) connect(cluster, user string) *Client {
	l.t.Helper()
	cert, key := l.ca.issue(l.t, user, int64(100+len(user)))
	c, err := Connect(Config{Endpoints: []string{l.url}, CA: filepath.Join(l.ca.dir, "ca.pem"), Cert: cert, Key: key, Cluster: cluster})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	return c
}

func denied(err error) bool { return err != nil && strings.Contains(err.Error(), "permission denied") }

// TestHostIdentityWritesOnlyItsOwnKeys: with the roles of fleet grant, host h1's
// identity cannot change h2's record, claims or liveness, nor the network
// settings, nor remove h2; run as h2 (h2's machine-id copied, --host h2), it
// cannot take h2's place. The operator's identity can.
func TestHostIdentityWritesOnlyItsOwnKeys(t *testing.T) {
	l := newTrustLab(t, "prod", "h1", "h2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	op := l.connect("prod", DefaultOperator)
	if err := op.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatalf("fleet init as the operator: %v", err)
	}
	h1, h2 := l.connect("prod", "h1"), l.connect("prod", "h2")
	if r, err := h1.Join(ctx, "h1", netip.MustParseAddr("198.18.0.1"), "m1"); err != nil || r.Index != 1 {
		t.Fatalf("h1 joins: %+v %v", r, err)
	}
	if r, err := h2.Join(ctx, "h2", netip.MustParseAddr("198.18.0.2"), "m2"); err != nil || r.Index != 2 {
		t.Fatalf("h2 joins: %+v %v", r, err)
	}
	if _, err := h1.holdLease(ctx, "h1", "m1", 5*time.Second); err != nil {
		t.Fatalf("h1's liveness: %v", err)
	}
	k := h1.Keys
	writes := map[string]func() error{
		"put h2's record": func() error {
			_, err := h1.etcd.Put(ctx, k.Host("h2"), `{"name":"h2","address":"198.18.0.9","index":2,"machine_id":""}`)
			return err
		},
		"put the network":        func() error { _, err := h1.etcd.Put(ctx, k.Network(), `{"encap":"gre"}`); return err },
		"claim index 2 as h2":    func() error { _, err := h1.etcd.Put(ctx, k.IndexClaim("h2", 3), ""); return err },
		"put h2's liveness":      func() error { _, err := h1.etcd.Put(ctx, k.Alive("h2"), `{"machine_id":"m2"}`); return err },
		"delete h2's keys":       func() error { _, err := h1.etcd.Delete(ctx, k.HostPrefix("h2"), clientv3.WithPrefix()); return err },
		"write the old index/2":  func() error { _, err := h1.etcd.Put(ctx, k.oldIndexes()+"2", "h1"); return err },
		"fleet remove h2":        func() error { _, err := h1.Remove(ctx, "h2"); return err },
		"fleet set-network":      func() error { return h1.SetNetwork(ctx, map[string]any{"encap": "gre"}, 0) },
		"join as h2 (copied id)": func() error { _, err := h1.Join(ctx, "h2", netip.MustParseAddr("198.18.0.7"), "m2"); return err },
		"write h2x's keys":       func() error { _, err := h1.etcd.Put(ctx, k.Host("h2x"), "{}"); return err },
	}
	for what, write := range writes {
		if err := write(); !denied(err) {
			t.Errorf("h1's identity: %s: %v, want permission denied", what, err)
		}
	}
	s, err := op.Snapshot(ctx, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Members) != 2 || s.Members[1].Name != "h2" || s.Members[1].Index != 2 || s.Members[1].Address.String() != "198.18.0.2" || s.Members[1].MachineID != "m2" {
		t.Errorf("h2 after h1's attempts: %+v", s.Members)
	}
	if s.Network["encap"] != "vxlan" {
		t.Errorf("network after h1's attempts: %v", s.Network)
	}
	// The operator's identity changes the settings and removes hosts.
	if _, rev, err := op.Network(ctx); err != nil || op.SetNetwork(ctx, map[string]any{"encap": "gre", "subnet": "172.30.0.0/16", "datapath": "netdev"}, rev) != nil {
		t.Errorf("set-network as the operator: %v", err)
	}
	if _, err := op.Remove(ctx, "h2"); err != nil {
		t.Errorf("remove h2 as the operator: %v", err)
	}
	// Nothing outside the fleet, not even for the operator.
	if _, err := op.etcd.Put(ctx, "/ovsmesh/other/network", "{}"); !denied(err) {
		t.Errorf("operator writing another fleet: %v, want permission denied", err)
	}
}

// TestAHostCannotTakeAnotherHostsIndexOrAddress: within its own keys, a host
// claims h2's index and h2's address and points its record at them: h2 keeps
// both (it claimed them first), the intruder is skipped with the reason, and a
// join with h2's address is refused.
func TestAHostCannotTakeAnotherHostsIndexOrAddress(t *testing.T) {
	l := newTrustLab(t, "prod", "h2", "a0", "h3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.connect("prod", DefaultOperator).Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	h2, a0, h3 := l.connect("prod", "h2"), l.connect("prod", "a0"), l.connect("prod", "h3")
	h2addr := netip.MustParseAddr("198.18.0.2")
	if _, err := h2.Join(ctx, "h2", h2addr, "m2"); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.holdLease(ctx, "h2", "m2", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// a0 (a name that sorts before h2) joins with h2's address: refused.
	_, err := a0.Join(ctx, "a0", h2addr, "ma0")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "registered first by h2") {
		t.Fatalf("a0 joins with h2's address: %v, want a refusal naming h2", err)
	}
	// a0 writes the keys itself, under its own prefix: a claim of h2's index
	// 1, and a record with a free index and h2's address, with its claims.
	k := a0.Keys
	for key, val := range map[string]string{
		k.IndexClaim("a0", 1): "", k.IndexClaim("a0", 5): "", k.AddressClaim("a0", h2addr): "",
		k.Host("a0"): `{"name":"a0","address":"198.18.0.2","index":5,"machine_id":"ma0"}`,
	} {
		if _, err := a0.etcd.Put(ctx, key, val); err != nil {
			t.Fatalf("a0 writes its own %s: %v", key, err)
		}
	}
	if _, err := h3.Join(ctx, "h3", netip.MustParseAddr("198.18.0.3"), "m3"); err != nil {
		t.Fatalf("h3 joins after a0's attempt: %v", err)
	}
	s, err := h3.Snapshot(ctx, ViewOptions{Self: "h3"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Topology == nil {
		t.Fatalf("no view: %v", s.Err)
	}
	var names []string
	for _, h := range s.Topology.Hosts {
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "h2,h3" || s.Topology.Hosts[0].Address != h2addr || s.Topology.Hosts[0].Index != 1 || s.Topology.Hosts[1].Index != 2 {
		t.Errorf("view %v, want h2 (with its address) and h3", names)
	}
	if len(s.Stale) != 1 || s.Stale[0].Key != k.Host("a0") || !strings.Contains(s.Stale[0].Reason, "address 198.18.0.2 was registered first by h2") {
		t.Errorf("stale %+v, want a0's record with a reason naming h2", s.Stale)
	}
	t.Logf("a0 skipped: %s", s.Stale[0].Reason)
}
