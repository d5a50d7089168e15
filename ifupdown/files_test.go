package ifupdown

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newFiles(t *testing.T) (*Files, string) {
	dir := t.TempDir()
	f := &Files{Interfaces: filepath.Join(dir, "interfaces"), DaemonJSON: filepath.Join(dir, "docker", "daemon.json")}
	if err := os.WriteFile(f.Interfaces, []byte(operator), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func TestFilesApply(t *testing.T) {
	f, dir := newFiles(t)
	s := desired(t, "../examples/classic-gre.yaml", "docker1")
	ctx := context.Background()

	// Dry run: the changes are reported, nothing is written.
	changes, err := f.Apply(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"write " + f.Interfaces + ": ovsmesh block: bridge br0, 1 tunnel, docker0 172.17.0.1/16",
		"write " + f.DaemonJSON + ": bip=172.17.0.1/16 fixed-cidr=172.17.64.0/18 mtu=1462",
	}
	if !slices.Equal(changes, want) {
		t.Errorf("dry run changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	if b, _ := os.ReadFile(f.Interfaces); string(b) != operator {
		t.Errorf("dry run wrote the interfaces file:\n%s", b)
	}
	if _, err := os.Stat(filepath.Dir(f.DaemonJSON)); !os.IsNotExist(err) {
		t.Errorf("dry run created %s (%v)", filepath.Dir(f.DaemonJSON), err)
	}

	// First apply writes both files.
	changes, err = f.Apply(ctx, s, false)
	if err != nil || !slices.Equal(changes, want) {
		t.Fatalf("first apply: %q, %v", changes, err)
	}
	if b, _ := os.ReadFile(f.Interfaces); string(b) != operator+"\n\n"+string(RenderInterfaces(s)) {
		t.Errorf("interfaces file after apply:\n%s", b)
	}
	if b, _ := os.ReadFile(f.DaemonJSON); string(b) != "{\n  \"bip\": \"172.17.0.1/16\",\n  \"fixed-cidr\": \"172.17.64.0/18\",\n  \"mtu\": 1462\n}\n" {
		t.Errorf("daemon.json after apply:\n%s", b)
	}

	// Second apply: no change, no write (same inodes and mtimes).
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	before := map[string]fileState{}
	for _, p := range []string{f.Interfaces, f.DaemonJSON} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		before[p] = stat(t, p)
	}
	changes, err = f.Apply(ctx, s, false)
	if err != nil || len(changes) != 0 {
		t.Fatalf("second apply: %q, %v", changes, err)
	}
	for p, b := range before {
		if a := stat(t, p); a != b {
			t.Errorf("second apply touched %s: %+v → %+v", p, b, a)
		}
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"docker", "interfaces"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestFilesApplyKeepsBrokenFiles(t *testing.T) {
	f, _ := newFiles(t)
	broken := "{\n  \"debug\": true,\n}\n"
	if err := os.MkdirAll(filepath.Dir(f.DaemonJSON), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.DaemonJSON, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Interfaces, []byte(operator+"\n"+BeginMarker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes, err := f.Apply(context.Background(), desired(t, "../examples/classic-gre.yaml", "docker1"), false)
	want := f.Interfaces + `: line 12: "# BEGIN ovsmesh managed block" without a "# END ovsmesh managed block" line after it: ovsmesh will not guess where its block ends, fix the markers by hand` + "\n" +
		f.DaemonJSON + `:3:1: invalid character '}' looking for beginning of object key string`
	if err == nil || err.Error() != want || len(changes) != 0 {
		t.Errorf("changes %q, error:\n%v\nwant:\n%s", changes, err, want)
	}
	if b, _ := os.ReadFile(f.DaemonJSON); string(b) != broken {
		t.Errorf("daemon.json was rewritten:\n%s", b)
	}
}
