package topofile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// meshHeader and meshHost build a topology file that is valid YAML, and a valid
// topology, at every line boundary: a reader that catches it half written sees a
// cluster with fewer hosts.
const meshHeader = "network: {encap: gre, datapath: netdev, subnet: 172.17.0.0/16, slice_prefix: 20}\nhosts:\n"

func meshHost(i int) string {
	return fmt.Sprintf("  - {name: docker%d, address: 198.18.0.%d, index: %d}\n", i, i, i)
}

// slowWrite writes content into path in place, one line at a time with pause
// between lines, as scp or an editor saving over a slow link would.
func slowWrite(t *testing.T, path, content string, pause time.Duration) <-chan struct{} {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer f.Close()
		for _, l := range strings.SplitAfter(content, "\n") {
			if _, err := f.WriteString(l); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(pause)
		}
	}()
	return done
}

func fullMesh(n int) string {
	s := meshHeader
	for i := 1; i <= n; i++ {
		s += meshHost(i)
	}
	return s
}

// TestFileGuardSlowAppend: while a file is appended to slowly, the guard never
// hands out a partial version, and it hands out the whole file once it settled.
func TestFileGuardSlowAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topology.yaml")
	final := fullMesh(5)
	done := slowWrite(t, path, final, 100*time.Millisecond)
	g := &FileGuard{Settle: 300 * time.Millisecond}
	var got []byte
	reads := 0
	deadline := time.Now().Add(10 * time.Second)
	for got == nil && time.Now().Before(deadline) {
		data, wait, err := g.Read(path, time.Now())
		reads++
		switch {
		case err != nil:
			t.Fatal(err)
		case data != nil:
			got = data
		case wait <= 0 || wait > g.Settle:
			t.Fatalf("unsettled with wait %v, want in (0, %v]", wait, g.Settle)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-done:
	default:
		t.Fatalf("the guard handed out %q while the file was still being written", got)
	}
	if string(got) != final {
		t.Fatalf("the guard handed out %q, want the whole file %q", got, final)
	}
	t.Logf("%d reads until the file settled", reads)
}

// TestFileGuardDistrustsOldMtime: a version copied with the source's (old) time
// counts from the moment the guard first read it; so does a time in the future.
func TestFileGuardDistrustsOldMtime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topology.yaml")
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write(fullMesh(3), now.Add(-time.Hour))
	g := &FileGuard{Settle: time.Second}
	if data, _, err := g.Read(path, now); err != nil || data == nil {
		t.Fatalf("a file unchanged for an hour: %q, %v; want it at once", data, err)
	}
	// The next version also says an hour ago (scp -p), half written.
	write(fullMesh(2), now.Add(-time.Hour))
	if data, wait, _ := g.Read(path, now.Add(time.Second)); data != nil || wait != time.Second {
		t.Fatalf("a new version with an old time: %q, wait %v; want nil, wait 1s", data, wait)
	}
	if data, wait, _ := g.Read(path, now.Add(1500*time.Millisecond)); data != nil || wait != 500*time.Millisecond {
		t.Fatalf("half a second later: %q, wait %v; want nil, wait 0.5s", data, wait)
	}
	if data, _, _ := g.Read(path, now.Add(2*time.Second)); string(data) != fullMesh(2) {
		t.Fatalf("unchanged for the settle time since first read: %q, want the file", data)
	}
	// A time in the future.
	write(fullMesh(4), now.Add(time.Hour))
	if data, _, _ := g.Read(path, now.Add(3*time.Second)); data != nil {
		t.Fatalf("a version dated in the future, just read: %q, want nil", data)
	}
	if data, _, _ := g.Read(path, now.Add(4*time.Second)); string(data) != fullMesh(4) {
		t.Fatalf("a version dated in the future, unchanged for the settle time: %q, want it", data)
	}
}

// TestLoadSettledWaits: a single apply whose file is being written waits for the
// whole file; one that keeps changing past the bound is an error.
func TestLoadSettledWaits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "topology.yaml")
	done := slowWrite(t, path, fullMesh(5), 100*time.Millisecond)
	topo, err := LoadSettled(context.Background(), path, 300*time.Millisecond, 10*time.Second)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Hosts) != 5 {
		t.Errorf("loaded %d hosts, want the whole file's 5", len(topo.Hosts))
	}

	busy := filepath.Join(dir, "busy.yaml")
	slow := slowWrite(t, busy, strings.Repeat(fullMesh(3), 8), 50*time.Millisecond)
	_, err = LoadSettled(context.Background(), busy, 300*time.Millisecond, time.Second)
	<-slow
	if err == nil || !strings.Contains(err.Error(), "still being written") || !strings.Contains(err.Error(), busy) {
		t.Errorf("a file written for 3 s with a 1 s bound: %v, want an error naming it as still being written", err)
	}
	if _, err := LoadSettled(context.Background(), filepath.Join(dir, "missing.yaml"), 0, 0); err == nil {
		t.Errorf("a missing file: no error")
	}
}

// TestFileGuardRefusesAHugeFile: a file over the size limit is an error naming it,
// before it is read (a sparse 1 GiB file here: reading it would take 1 GiB).
func TestFileGuardRefusesAHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1<<30); err != nil {
		t.Fatal(err)
	}
	g := &FileGuard{Settle: time.Millisecond}
	data, _, err := g.Read(path, time.Now().Add(time.Hour))
	want := path + ": file is 1073741824 bytes, more than the limit of 4194304"
	if err == nil || !strings.HasPrefix(err.Error(), want) || data != nil {
		t.Errorf("Read: %v (%d bytes), want an error starting %q", err, len(data), want)
	}
}
