package openflow

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestDirectCountIsOvsOfctls: on a real ovs-vswitchd, the count over the
// management socket is ovs-ofctl dump-aggregate's, with foreign flows beside
// ours and after one of ours is deleted; a verified table is then counted with
// no ovs-ofctl process, and a deleted flow still makes the Read dump and the
// Apply repair. A bridge without OpenFlow 1.4 says so in its hello; a bridge that
// does not exist is reported in ovs-ofctl's words.
func TestDirectCountIsOvsOfctls(t *testing.T) {
	o := startOVS(t)
	ctx := t.Context()
	rec := &recordingRunner{}
	direct := New("br0", testLogger(t), WithRunner(rec), WithTimeout(10*time.Second),
		WithFullCheckEvery(time.Hour), WithDirectCount(""))
	byOfctl := New("br0", testLogger(t), WithTimeout(10*time.Second))
	want := labFlows(t, "docker1")
	if _, err := direct.Apply(ctx, want, false); err != nil {
		t.Fatal(err)
	}
	foreign := []string{"table=0,priority=7,actions=drop", "table=3,priority=7,ip,actions=drop"}
	for _, f := range foreign {
		o.ofctl(t, "add-flow", "br0", "cookie="+foreignCookie+","+f)
	}
	check := func(name string, n int) {
		t.Helper()
		got, err := direct.Count(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ofctl, err := byOfctl.Count(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != ofctl || got != n {
			t.Errorf("%s: counted %d over the socket, %d by ovs-ofctl, want %d", name, got, ofctl, n)
		}
	}
	check("installed", len(want))
	rec.take()
	r, err := direct.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changes, err := r.Apply(ctx, want, false); err != nil || changes != nil {
		t.Fatalf("verified table: %q, %v", changes, err)
	}
	if got := commands(rec.take()); got != "" {
		t.Errorf("a verified table counted over the socket ran %q, want no ovs-ofctl", got)
	}

	o.ofctl(t, "--strict", "del-flows", "br0", "cookie="+ourCookie+"/-1,table=2,priority=1")
	check("one of ours deleted", len(want)-1)
	r, err = direct.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changes, err := r.Apply(ctx, want, false); err != nil || len(changes) != 1 {
		t.Errorf("repair: %q, %v; want the deleted flow added", changes, err)
	}
	if got := commands(rec.take()); got != "dump-flows --bundle" {
		t.Errorf("a changed count ran %q, want a dump and a bundle", got)
	}
	assertTable(t, o, want, foreign)

	// A bridge without OpenFlow 1.4 refuses the hello, as it refuses ovs-ofctl -O OpenFlow14.
	o.Run(t, "ovs-vsctl", "--db="+o.DB(), "--timeout=10", "set", "bridge", "br0", "protocols=OpenFlow10")
	if _, err := direct.Count(ctx); err == nil || !strings.Contains(err.Error(), "the bridge does not offer OpenFlow 1.4") {
		t.Errorf("bridge without OpenFlow 1.4: %v", err)
	}

	_, err = New("br9", testLogger(t), WithDirectCount("")).Count(ctx)
	if err == nil || !strings.Contains(err.Error(), `count ovsmesh flows of bridge "br9": br9 is not a bridge or a socket`) {
		t.Errorf("missing bridge: %v", err)
	}
}

// TestAggregateCountSpeaksOpenFlow14: the hello (but its xid) and the request are
// the bytes `ovs-ofctl -O OpenFlow14 --no-names dump-aggregate unix:SOCK
// cookie=C/-1` sends (captured from ovs-ofctl 3.1 by a server on a unix socket:
// hello 05000010000000010001000800000020; the request's xid was 2, ours is 1),
// an echo request meanwhile is answered, and an OpenFlow error to the request
// is returned.
func TestAggregateCountSpeaksOpenFlow14(t *testing.T) {
	const wantReq = "0512003800000001" + "0002000000000000" + "ff000000ffffffffffffffff00000000" +
		"006f76736d657368" + "ffffffffffffffff" + "0001000400000000"
	for _, tc := range []struct {
		name    string
		hello   []byte // the bitmap of versions offered: 1.3, 1.4 and 1.5 unless set
		reply   []byte
		want    int
		wantErr string
	}{
		{"reply", nil, aggregateReply(25), 25, ""},
		{"no OpenFlow 1.4", []byte{0, 1, 0, 8, 0, 0, 0, 0x02}, nil, 0, "openflow hello: the bridge does not offer OpenFlow 1.4 (see its protocols)"},
		{"error", nil, append(header(ofptError, 12, countXID), 0, 1, 0, 5), 0, "openflow error type 1 code 5 to the aggregate request"},
		{"hello failed", nil, append(header(ofptError, 12, 0), 0, 0, 0, 0), 0, "openflow error type 0 code 0 to the hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			done := make(chan string, 1)
			go func() {
				defer server.Close()
				if typ, _, body, err := readMsg(server); err != nil || typ != ofptHello || hex.EncodeToString(body) != "0001000800000020" {
					done <- fmt.Sprintf("no hello for OpenFlow 1.4 alone: type %d, %x, %v", typ, body, err)
					return
				}
				hello := tc.hello
				if hello == nil {
					hello = []byte{0, 1, 0, 8, 0, 0, 0, 0x70}
				}
				server.Write(append(header(ofptHello, ofHeaderLen+len(hello), 7), hello...))
				if tc.reply == nil {
					done <- ""
					return
				}
				req := make([]byte, aggregateReqLen)
				if _, err := server.Read(req); err != nil {
					done <- err.Error()
					return
				}
				server.Write(append(header(ofptEchoRequest, 12, 9), 1, 2, 3, 4))
				typ, xid, body, err := readMsg(server)
				if err != nil || typ != ofptEchoReply || xid != 9 || hex.EncodeToString(body) != "01020304" {
					done <- "no echo reply"
					return
				}
				server.Write(tc.reply)
				done <- hex.EncodeToString(req)
			}()
			n, err := aggregateCount(client, 0x006f76736d657368)
			if got := <-done; tc.reply != nil && got != wantReq {
				t.Errorf("request %s,\nwant    %s", got, wantReq)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.want {
				t.Errorf("count %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}

// aggregateReply is an OpenFlow 1.4 aggregate reply counting n flows.
func aggregateReply(n uint32) []byte {
	b := header(ofptMultipartReply, ofHeaderLen+8+24, countXID)
	b = append(b, 0, ofpmpAggregate, 0, 0, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, 3)
	b = binary.BigEndian.AppendUint64(b, 300)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, 0, 0, 0, 0)
}

// cannedRunner answers ovs-ofctl as a bridge with no flow of ours would, and
// records every command line.
type cannedRunner struct{ cmds [][]string }

func (r *cannedRunner) Run(_ context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	if stdin != nil {
		io.Copy(io.Discard, stdin)
	}
	r.cmds = append(r.cmds, append([]string{name}, args...))
	switch {
	case slices.Contains(args, "dump-flows"):
		return []byte("OFPST_FLOW reply (OF1.4) (xid=0x2):\n"), nil
	case slices.Contains(args, "dump-aggregate"):
		return []byte("OFPST_AGGREGATE reply (OF1.4) (xid=0x2): packet_count=0 byte_count=0 flow_count=0\n"), nil
	}
	return nil, nil
}

// TestEveryOfctlRunHasNoNames: every ovs-ofctl run of a Table has --no-names
// (ovs-ofctl would otherwise first ask for every port's name): the dumps, the
// count, the relay paths, our own bundle and go-openvswitch's ("add-flow").
func TestEveryOfctlRunHasNoNames(t *testing.T) {
	ctx := t.Context()
	rec := &cannedRunner{}
	tbl := New("br0", testLogger(t), WithRunner(rec))
	two := twoHostFlows(t)
	if _, err := tbl.Apply(ctx, two, false); err != nil { // dump, go-openvswitch's bundle
		t.Fatal(err)
	}
	r, err := tbl.Read(ctx) // a dump that finds nothing again
	if err != nil {
		t.Fatal(err)
	}
	stale := topology.Flow{Table: 7, Priority: 3, Actions: []string{"drop"}}
	r.have = asVerified(mustEntries(t, append(slices.Clone(two), stale)))
	if _, err := r.Apply(ctx, two, false); err != nil { // our own bundle with a strict delete
		t.Fatal(err)
	}
	if _, err := tbl.Count(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Paths(ctx); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, c := range rec.cmds {
		line := strings.Join(c, " ")
		if c[0] != "ovs-ofctl" || slices.Index(c, noNames) < 0 {
			t.Errorf("run without %s: %s", noNames, line)
		}
		for _, w := range []string{"dump-flows", "add-flow", "add-flows", "dump-aggregate"} {
			if slices.Contains(c, w) {
				seen = append(seen, w)
			}
		}
	}
	if got := strings.Join(seen, " "); got != "dump-flows add-flow dump-flows add-flows dump-aggregate dump-flows" {
		t.Errorf("ran %q, want both kinds of bundle, the count and the dumps", got)
	}
}

// mustEntries is wantEntries that fails the test.
func mustEntries(t *testing.T, flows []topology.Flow) []entry {
	t.Helper()
	es, err := wantEntries(flows)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestDirectCountSocket: a bridge name counts on rundir/NAME.mgmt, a unix:
// bridge on its socket, and a tcp: or ssl: one stays with ovs-ofctl.
func TestDirectCountSocket(t *testing.T) {
	t.Setenv("OVS_RUNDIR", "/run/x")
	for bridge, want := range map[string]string{
		"br0":                    "/run/x/br0.mgmt",
		"unix:/tmp/s/br1.mgmt":   "/tmp/s/br1.mgmt",
		"tcp:127.0.0.1:6653":     "",
		"ssl:[2001:db8::1]:6653": "",
	} {
		if got := New(bridge, testLogger(t), WithDirectCount("")).mgmt; got != want {
			t.Errorf("%s: socket %q, want %q", bridge, got, want)
		}
	}
	if got := New("br0", testLogger(t), WithDirectCount("/lab/h1")).mgmt; got != "/lab/h1/br0.mgmt" {
		t.Errorf("br0 with a run directory: socket %q", got)
	}
}
