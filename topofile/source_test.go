package topofile

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// newSource writes content to a file in place for an hour (as at boot) and
// returns a Source on it and its log.
func newSource(t *testing.T, content string, settle time.Duration) (*Source, *testenv.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	return &Source{Path: path, Settle: settle, Poll: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(logs, nil))}, logs
}

// TestSourceKeepsLastGoodTopology: an invalid or deleted file keeps the last good
// topology in force with the reason, logged once per version of the file; the
// fixed file is in force at once, and its return logged once.
func TestSourceKeepsLastGoodTopology(t *testing.T) {
	s, logs := newSource(t, fullMesh(3), time.Millisecond)
	if rd := s.Current(time.Now()); rd.Err != nil || rd.Topology == nil || len(rd.Topology.Hosts) != 3 {
		t.Fatalf("a file in place: %+v, want its 3 hosts", rd)
	}
	write := func(content string) {
		// The kernel stamps a write with its coarse clock, up to a tick behind
		// time.Now: written right after a reading, the file could look older than
		// that reading, which the guard counts from its first reading instead
		// (see FileGuard). A pause first keeps the write after the reading.
		time.Sleep(20 * time.Millisecond)
		if err := os.WriteFile(s.Path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // settled
	}
	write("network:\n  encap: geneve\n")
	for range 3 {
		rd := s.Current(time.Now())
		if rd.Topology == nil || len(rd.Topology.Hosts) != 3 || rd.Err == nil || !strings.Contains(rd.Err.Error(), "geneve") || rd.Wait != 0 {
			t.Fatalf("an invalid file: %+v, want the last good topology and the problem", rd)
		}
	}
	if n := strings.Count(logs.String(), "keeping the last good topology"); n != 1 {
		t.Errorf("load error logged %d times for one version of the file, want once:\n%s", n, logs)
	}
	if err := os.Remove(s.Path); err != nil {
		t.Fatal(err)
	}
	if rd := s.Current(time.Now()); rd.Topology == nil || rd.Err == nil {
		t.Errorf("a deleted file: %+v, want the last good topology and the error", rd)
	}
	if n := strings.Count(logs.String(), "keeping the last good topology"); n != 2 {
		t.Errorf("the deletion logged %d times in all, want 2:\n%s", n, logs)
	}
	write(fullMesh(5))
	s.Current(time.Now()) // its first reading: see FileGuard on times before the last reading
	time.Sleep(5 * time.Millisecond)
	if rd := s.Current(time.Now()); rd.Err != nil || len(rd.Topology.Hosts) != 5 {
		t.Errorf("the fixed file: %+v, want its 5 hosts", rd)
	}
	if n := strings.Count(logs.String(), "topology loaded again"); n != 1 {
		t.Errorf("%q logged %d times, want once", "topology loaded again", n)
	}
}

// TestSourceNeverHandsOutHalfAFile: the file is rewritten in place slowly from
// three hosts to five while the source is read as often as a loop could; no
// reading holds a version with fewer hosts than either (fewer hosts would delete
// their tunnels), and the wait is logged once per version.
func TestSourceNeverHandsOutHalfAFile(t *testing.T) {
	// Settle above the writer's pauses between lines (60 ms).
	s, logs := newSource(t, fullMesh(3), 300*time.Millisecond)
	done := slowWrite(t, s.Path, fullMesh(5), 60*time.Millisecond)
	seen, waits := map[int]int{}, 0
	deadline := time.Now().Add(10 * time.Second)
	for {
		rd := s.Current(time.Now())
		if rd.Wait > 0 {
			waits++
		}
		if rd.Topology != nil {
			seen[len(rd.Topology.Hosts)]++
		}
		if rd.Topology != nil && len(rd.Topology.Hosts) == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-done
	for n, readings := range seen {
		if n != 3 && n != 5 {
			t.Errorf("%d readings held a topology of %d hosts: a half-written file", readings, n)
		}
	}
	if seen[5] == 0 || waits == 0 {
		t.Errorf("readings by hosts %v, %d waits; want the 5 hosts in the end, after waits", seen, waits)
	}
	if !strings.Contains(logs.String(), "waiting for it to settle") {
		t.Errorf("the wait is not logged:\n%s", logs)
	}
}

// TestSourceWatchSeesChanges: a write and a replacement by rename (same size,
// same mtime) are both reported; nothing is reported for a file left alone.
func TestSourceWatchSeesChanges(t *testing.T) {
	s, logs := newSource(t, fullMesh(3), time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx)
	expect := func(what string, want bool) {
		t.Helper()
		select {
		case <-ch:
			if !want {
				t.Errorf("%s: a change reported", what)
			}
		case <-time.After(200 * time.Millisecond):
			if want {
				t.Errorf("%s: no change reported", what)
			}
		}
	}
	expect("a file left alone", false)
	if err := os.WriteFile(s.Path, []byte(fullMesh(4)), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("a write", true)
	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	other := s.Path + ".new"
	if err := os.WriteFile(other, []byte(fullMesh(4)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(other, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, s.Path); err != nil {
		t.Fatal(err)
	}
	expect("a replacement by rename", true)
	if n := strings.Count(logs.String(), "topology file changed"); n != 2 {
		t.Errorf("%q logged %d times, want 2:\n%s", "topology file changed", n, logs)
	}
}
