package ifupdown

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// fileState renders what a write may change about a file.
type fileState struct {
	content   string
	mode      os.FileMode
	ino       uint64
	mtime     time.Time
	uid, gid  uint32
	isSymlink bool
}

func stat(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	li, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{string(b), fi.Mode().Perm(), st.Ino, fi.ModTime(), st.Uid, st.Gid, li.Mode()&os.ModeSymlink != 0}
}

func write(t *testing.T, path, data string) bool {
	t.Helper()
	changed, err := WriteIfChanged(path, []byte(data), 0o644)
	if err != nil {
		t.Fatalf("WriteIfChanged: %v", err)
	}
	return changed
}

// entries lists a directory, to catch stray temporary files.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteIfChanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc", "docker") // missing: created
	path := filepath.Join(dir, "daemon.json")
	if !write(t, path, "{}\n") {
		t.Fatal("first write reported no change")
	}
	first := stat(t, path)
	if first.content != "{}\n" || first.mode != 0o644 {
		t.Fatalf("after the first write: %+v", first)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("parent directory: %v %v", fi.Mode(), err)
	}

	// A second write of the same bytes changes nothing: same inode, same mtime.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if write(t, path, "{}\n") {
		t.Error("second write of the same bytes reported a change")
	}
	if got := stat(t, path); got.ino != first.ino || !got.mtime.Equal(old) {
		t.Errorf("the no-op write touched the file: inode %d→%d, mtime %v→%v", first.ino, got.ino, old, got.mtime)
	}

	// New bytes: a new inode (rename), the operator's mode kept over perm.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if !write(t, path, `{"mtu": 1450}`) {
		t.Error("write of new bytes reported no change")
	}
	got := stat(t, path)
	if got.content != `{"mtu": 1450}` || got.mode != 0o600 || got.ino == first.ino {
		t.Errorf("after rewriting: %+v (first inode %d)", got, first.ino)
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"daemon.json"}) {
		t.Errorf("directory holds %q, want only daemon.json", names)
	}
}

func TestWriteIfChangedKeepsOwner(t *testing.T) {
	testenv.RequireRoot(t, "chown to another user")
	path := filepath.Join(t.TempDir(), "interfaces")
	write(t, path, "a\n")
	if err := os.Chown(path, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	write(t, path, "b\n")
	if got := stat(t, path); got.uid != 1234 || got.gid != 5678 || got.content != "b\n" {
		t.Errorf("after rewriting a file of 1234:5678: %+v", got)
	}
}

func TestWriteIfChangedFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "interfaces")
	write(t, real, "a\n")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if !write(t, link, "b\n") {
		t.Error("no change reported")
	}
	if got := stat(t, link); !got.isSymlink || got.content != "b\n" {
		t.Errorf("link after the write: %+v", got)
	}
	if err := os.Symlink("missing", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteIfChanged(filepath.Join(dir, "dangling"), []byte("x"), 0o644); err == nil {
		t.Error("a dangling symbolic link was replaced")
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"dangling", "interfaces", "real"}) {
		t.Errorf("directory holds %q", names)
	}
}
