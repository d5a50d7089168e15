package agent

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
)

func newTestAgent(t *testing.T) *Agent {
	t.Helper()
	a, err := New(Config{Client: &fleet.Client{Keys: fleet.Keys{Cluster: "lab"}}, Host: "docker1",
		ViewFile: filepath.Join(t.TempDir(), "var", "lab.view.yaml"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	d1 = fleet.Record{Name: "docker1", Address: netip.MustParseAddr("198.18.0.1"), Index: 1}
	d2 = fleet.Record{Name: "docker2", Address: netip.MustParseAddr("198.18.0.2"), Index: 2}
)

func snap(t *testing.T, rev int64, hosts ...fleet.Record) fleet.Snapshot {
	t.Helper()
	topo, text, err := fleet.Compile("test", map[string]any{"subnet": "172.17.0.0/16", "slice_prefix": 20}, hosts)
	if err != nil {
		t.Fatal(err)
	}
	return fleet.Snapshot{Cluster: "lab", Revision: rev, Topology: topo, Text: text}
}

// signalled says whether the loop was told of a new view (and takes the signal).
func signalled(a *Agent) bool {
	select {
	case <-a.Watch(context.Background()):
		return true
	default:
		return false
	}
}

func hostsInForce(a *Agent) int {
	rd := a.Current(time.Now())
	if rd.Topology == nil {
		return 0
	}
	return len(rd.Topology.Hosts)
}

// TestRevisionOnlyChangeMakesNoPass: a revision that leaves the view as it is
// rewrites the saved view's revision line and tells the loop nothing; a changed
// view is saved, put in force and told; a view without this host changes
// nothing.
func TestRevisionOnlyChangeMakesNoPass(t *testing.T) {
	a := newTestAgent(t)
	revision := func() int64 {
		b, _ := os.ReadFile(a.ViewFile)
		_, rev, _, _ := fleet.ParseViewFile(b)
		return rev
	}
	if rd := a.Current(time.Now()); rd.Topology != nil || rd.Err == nil {
		t.Errorf("before any view: %+v, want no topology and a reason", rd)
	}
	a.take(snap(t, 5, d1, d2))
	if !signalled(a) || hostsInForce(a) != 2 || revision() != 5 {
		t.Fatalf("first view: no signal, or %d hosts in force, saved at revision %d; want a signal, 2, 5", hostsInForce(a), revision())
	}
	a.take(snap(t, 6, d1, d2))
	if signalled(a) || revision() != 6 {
		t.Errorf("revision-only change: the loop was told, or the saved view is at revision %d, want 6", revision())
	}
	a.take(snap(t, 7, d1))
	if !signalled(a) || hostsInForce(a) != 1 || revision() != 7 {
		t.Errorf("view change: %d hosts in force, saved at revision %d; want a signal, 1, 7", hostsInForce(a), revision())
	}
	a.take(snap(t, 8, d2))
	if signalled(a) || hostsInForce(a) != 1 || revision() != 7 {
		t.Errorf("a view without this host: %d hosts in force, saved at revision %d; want it ignored", hostsInForce(a), revision())
	}
}

// TestSavedViewSurvivesARestart: a new agent on the same file starts from the
// saved view (its format: the header line, then the topology file), and a file
// without the header, from an older ovsmesh, is read too.
func TestSavedViewSurvivesARestart(t *testing.T) {
	a := newTestAgent(t)
	a.take(snap(t, 5, d1, d2))
	data, err := os.ReadFile(a.ViewFile)
	if err != nil || !strings.HasPrefix(string(data), "# fleet lab view at etcd revision 5\n# written by ovsmesh fleet") {
		t.Fatalf("saved view %q, %v; want the header line, then the topology file", data, err)
	}
	b, _ := New(a.Config)
	if !b.LoadSaved() || hostsInForce(b) != 2 {
		t.Errorf("restart: the saved view is not in force (%d hosts)", hostsInForce(b))
	}
	_, _, text, _ := fleet.ParseViewFile(data)
	if err := os.WriteFile(a.ViewFile, text, 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := New(a.Config)
	if !c.LoadSaved() || hostsInForce(c) != 2 {
		t.Errorf("a view without the header is not in force (%d hosts)", hostsInForce(c))
	}
	other := a.Config
	other.Host = "docker9"
	d, _ := New(other)
	if d.LoadSaved() {
		t.Error("a saved view without this host was put in force")
	}
}

// TestViewFileWriteIsAtomicWithAUniqueTemporary: the saved view is written as
// every other file ovsmesh writes (ifupdown.WriteIfChanged: a synced temporary
// of a unique name): a leftover at the old fixed name PATH.tmp (here a
// directory) does not stop the write, and unchanged content is not rewritten.
func TestViewFileWriteIsAtomicWithAUniqueTemporary(t *testing.T) {
	a := newTestAgent(t)
	if err := os.Mkdir(a.ViewFile+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := a.save(snap(t, 5, d1)); err != nil {
		t.Fatalf("write with %s.tmp in the way: %v", a.ViewFile, err)
	}
	before, _ := os.Stat(a.ViewFile)
	a.written = nil // not remembered: the file itself is compared
	if err := a.save(snap(t, 5, d1)); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(a.ViewFile); !os.SameFile(before, after) {
		t.Error("unchanged content was written again")
	}
}
