package cli

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
)

// Fleet mode's command-line refusals: each is a usage error (exit 2) that says
// what to do, and none reaches etcd.
func TestFleetUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "../../examples/lab.yaml", "--etcd", "https://127.0.0.1:1", "--cluster", "c"}, "not both"},
		{[]string{"plan", "../../examples/lab.yaml", "--etcd", "https://127.0.0.1:1", "--cluster", "c"}, "not both"},
		{[]string{"apply", "--cluster", "c"}, "--cluster needs --etcd"},
		{[]string{"apply"}, "one topology file (or --etcd URLS --cluster NAME)"},
		{[]string{"plan", "--etcd", "http://127.0.0.1:1", "--cluster", "c"}, "--etcd-insecure"},
		{[]string{"plan", "--etcd", "https://127.0.0.1:1"}, "--cluster: missing"},
		{[]string{"plan", "--etcd", "https://127.0.0.1:1", "--cluster", "a/b"}, "--cluster \"a/b\""},
		{[]string{"fleet", "status"}, "fleet commands need --etcd"},
		{[]string{"fleet", "status", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "-o", "yaml"}, "want text or json"},
		{[]string{"fleet"}, "missing subcommand"},
		{[]string{"fleet", "remove", "--etcd", "https://127.0.0.1:1", "--cluster", "c"}, "one host name"},
		{[]string{"fleet", "export", "--etcd", "ftp://x", "--cluster", "c"}, "want an http:// or https:// URL"},
		{[]string{"fleet", "status", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--etcd-cert", "x.pem"}, "--etcd-cert and --etcd-key go together"},
		{[]string{"apply", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--liveness-grace", "-1s"}, "--liveness-grace -1s: want 0 or more"},
		{[]string{"apply", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--lease-ttl", "1s"}, "--lease-ttl 1s: want at least 2s"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

// A network file that validate refuses is refused by fleet init before etcd is
// reached, with the file's own positions.
func TestFleetInitRefusesABadFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bad.yaml"
	writeFile(t, path, "network:\n  encap: geneve\n")
	code, _, stderr := run(t, "fleet", "init", path, "--etcd", "https://127.0.0.1:1", "--cluster", "c")
	if code != ExitFailed || !strings.Contains(stderr, "geneve") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming geneve", code, stderr)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A revision that leaves the view as it is rewrites the saved view's revision
// line and leaves the file the loop applies untouched (the loop watches its
// size, mtime and inode); a changed view rewrites both.
func TestFleetViewWriteLeavesTheAppliedFileAloneOnARevisionOnlyChange(t *testing.T) {
	dir := t.TempDir()
	a := &fleetAgent{c: &fleet.Client{Keys: fleet.Keys{Cluster: "lab"}}, host: "docker1", view: filepath.Join(dir, "lab.view.yaml"),
		log: slog.New(slog.DiscardHandler)}
	a.applied = appliedPath(a.view)
	snap := func(rev int64, hosts ...fleet.Record) fleet.Snapshot {
		topo, text, err := fleet.Compile("test", map[string]any{"subnet": "172.17.0.0/16", "slice_prefix": 20}, hosts)
		if err != nil {
			t.Fatal(err)
		}
		return fleet.Snapshot{Revision: rev, Topology: topo, Text: text}
	}
	d1 := fleet.Record{Name: "docker1", Address: netip.MustParseAddr("198.18.0.1"), Index: 1}
	d2 := fleet.Record{Name: "docker2", Address: netip.MustParseAddr("198.18.0.2"), Index: 2}
	stat := func() os.FileInfo {
		fi, err := os.Stat(a.applied)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	revision := func() int64 {
		b, _ := os.ReadFile(a.view)
		_, rev, _, _ := fleet.ParseViewFile(b)
		return rev
	}
	if err := a.write(snap(5, d1, d2)); err != nil {
		t.Fatal(err)
	}
	before := stat()
	time.Sleep(20 * time.Millisecond) // a rewrite would show in the mtime
	if err := a.write(snap(6, d1, d2)); err != nil {
		t.Fatal(err)
	}
	if after := stat(); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) || revision() != 6 {
		t.Errorf("revision-only change: applied file rewritten (%v, %v → %v) or saved view at revision %d, want 6",
			os.SameFile(before, after), before.ModTime(), after.ModTime(), revision())
	}
	if err := a.write(snap(7, d1)); err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, stat()) || revision() != 7 {
		t.Errorf("view change: the applied file was not replaced, or the saved view is at revision %d, want 7", revision())
	}
	if text, _ := os.ReadFile(a.applied); strings.Contains(string(text), "docker2") {
		t.Errorf("the applied file still has docker2:\n%s", text)
	}
}
