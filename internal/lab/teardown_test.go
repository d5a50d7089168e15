package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClose checks that Close kills every process and deletes every
// namespace and file, including a process the test left in a container.
func TestClose(t *testing.T) {
	short(t)
	RequireRoot(t)
	RequireBinaries(t)
	ctx := testCtx(t)
	l, err := New(ctx, []HostSpec{{Name: "docker1"}, {Name: "docker2"}}, WithLogf(t.Logf))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			l.Close()
		}
	})
	h1 := l.Host("docker1")
	overlay(t, ctx, h1, 1, l.Host("docker2").Underlay, "gre", 1462)
	c, err := h1.AddContainer(ctx, "c1", netip.MustParsePrefix("172.17.64.2/16"), netip.MustParseAddr("172.17.0.1"), 1462)
	if err != nil {
		t.Fatal(err)
	}
	stray := c.Command(context.WithoutCancel(ctx), "sleep", "300")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	strayDone := make(chan error, 1)
	go func() { strayDone <- stray.Wait() }()

	var pids []proc
	for _, h := range l.Hosts() {
		o, v := h.Pids()
		pids = append(pids, proc{PID: o, Comm: "ovsdb-server"}, proc{PID: v, Comm: "ovs-vswitchd"})
	}
	for _, p := range pids {
		if !p.running() {
			t.Fatalf("%s not running before Close", p)
		}
	}
	nss, _ := labNamespaces(l.ID)
	if len(nss) != 4 {
		t.Errorf("namespaces %v, want 4", nss)
	}

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	t.Logf("Close: %v", time.Since(start))
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	out, err := run(ctx, nil, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, l.ID) {
		t.Errorf("namespaces of %s left after Close:\n%s", l.ID, out)
	}
	for _, p := range pids {
		if p.running() {
			t.Errorf("%s still running after Close", p)
		}
	}
	select {
	case err := <-strayDone:
		t.Logf("stray process in container: %v", err)
	case <-time.After(5 * time.Second):
		t.Errorf("stray process %d in the container survived Close", stray.Process.Pid)
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab dir %s: %v, want it removed", l.Dir, err)
	}
	if ps := processesMentioning(l.Dir); len(ps) > 0 {
		t.Errorf("processes mentioning %s after Close: %v", l.Dir, ps)
	}
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) && (proc{PID: pid}).running() {
			out = append(out, pid)
		}
	}
	return out
}

// TestNewFailsHalfway checks that New tears down what it built when it
// fails in the middle.
func TestNewFailsHalfway(t *testing.T) {
	short(t)
	RequireRoot(t)
	RequireBinaries(t)
	// Make the context expire at different points of New.
	for _, d := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		l, err := New(ctx, []HostSpec{{Name: "docker1"}, {Name: "docker2"}, {Name: "docker3"}})
		cancel()
		if err == nil {
			l.Close()
			t.Logf("New finished within %v", d)
			continue
		}
		t.Logf("New with %v: %v", d, err)
		id := regexp.MustCompile(`lab (om[0-9a-f]{6})`).FindStringSubmatch(err.Error())
		if id == nil {
			t.Fatalf("error does not name the lab: %v", err)
		}
		if nss, _ := labNamespaces(id[1]); len(nss) > 0 {
			t.Errorf("namespaces left: %v", nss)
		}
		dir := filepath.Join(os.TempDir(), dirPrefix+id[1])
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dir %s left: %v", dir, err)
		}
		if ps := processesMentioning(dir); len(ps) > 0 {
			t.Errorf("processes left: %v", ps)
		}
	}
}

// TestSweep checks that Sweep removes a lab whose owner is gone and leaves
// alone a lab whose owner runs and a kept lab. (Sweep acts on every lab on the
// machine; unforced it only removes real leftovers.)
func TestSweep(t *testing.T) {
	short(t)
	live := NewT(t, HostSpec{Name: "docker1"})
	ctx := testCtx(t)
	dead, err := New(ctx, []HostSpec{{Name: "docker1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	// Pretend the process that built it was killed.
	dead.owner = Owner{PID: 1 << 30}
	if err := dead.saveState(); err != nil {
		t.Fatal(err)
	}
	o, v := dead.Host("docker1").Pids()
	kept, err := New(ctx, []HostSpec{{Name: "docker1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kept.Close() })
	if err := kept.Keep(); err != nil {
		t.Fatal(err)
	}
	removed, err := Sweep(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("swept %v", removed)
	if !slices.Contains(removed, dead.ID) || slices.Contains(removed, live.ID) || slices.Contains(removed, kept.ID) {
		t.Errorf("swept %v, want %s and neither %s (live) nor %s (kept)", removed, dead.ID, live.ID, kept.ID)
	}
	if nss, _ := labNamespaces(kept.ID); len(nss) != 2 {
		t.Errorf("kept lab's namespaces: %v", nss)
	}
	if nss, _ := labNamespaces(dead.ID); len(nss) > 0 {
		t.Errorf("namespaces left: %v", nss)
	}
	for _, p := range []proc{{PID: o, Comm: "ovsdb-server"}, {PID: v, Comm: "ovs-vswitchd"}} {
		if p.running() {
			t.Errorf("%s survived Sweep", p)
		}
	}
	if nss, _ := labNamespaces(live.ID); len(nss) != 2 {
		t.Errorf("live lab's namespaces: %v", nss)
	}
	if err := live.Host("docker1").StopVSwitchd(ctx); err != nil {
		t.Errorf("live lab broken: %v", err)
	}
}

func TestRestore(t *testing.T) {
	short(t)
	l := NewT(t, HostSpec{Name: "docker1"})
	path := filepath.Join(t.TempDir(), "state.json")
	if err := WriteState(path, l.State()); err != nil {
		t.Fatal(err)
	}
	s, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.State(), l.State(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored state\n%+v\nwant\n%+v", got, want)
	}
	bad := s
	bad.Dir = "/"
	if _, err := Restore(bad); err == nil {
		t.Error("Restore accepted Dir=/")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if nss, _ := labNamespaces(l.ID); len(nss) > 0 {
		t.Errorf("namespaces left after Close of restored lab: %v", nss)
	}
}

func TestNormalize(t *testing.T) {
	for _, hs := range [][]HostSpec{
		nil,
		{{Name: ""}},
		{{Name: "a b"}},
		{{Name: "ul"}},
		{{Name: "a"}, {Name: "a"}},
		{{Name: "a", Underlay: netip.MustParsePrefix("10.0.0.1/24")}, {Name: "b", Underlay: netip.MustParsePrefix("10.0.0.1/24")}},
	} {
		if _, err := normalize(hs); err == nil {
			t.Errorf("normalize(%v): no error", hs)
		}
	}
	got, err := normalize([]HostSpec{{Name: "docker1"}, {Name: "docker2", Underlay: netip.MustParsePrefix("fd00::2/64")}, {Name: "docker3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Underlay.String() != "198.18.0.1/24" || got[1].Underlay.String() != "fd00::2/64" || got[2].Underlay.String() != "198.18.0.3/24" {
		t.Errorf("normalize: %v", got)
	}
}
