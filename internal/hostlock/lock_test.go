package hostlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestAcquire checks that a second holder is refused with the first one's pid and
// command line, and that the lock is free again once released.
func TestAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "ovsmesh.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(path) // flock locks are per open file: a second open conflicts
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("second acquire: %v, want ErrHeld", err)
	}
	for _, want := range []string{path, "pid " + itoa(os.Getpid()), filepath.Base(os.Args[0])} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	l.Release()
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}

// TestAcquireAfterHolderDied checks that a lock file left by a process that
// exited (or was killed) does not block: the kernel dropped its lock.
func TestAcquireAfterHolderDied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ovsmesh.lock")
	if err := os.WriteFile(path, []byte("pid=1 since=x cmd=old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// flock(1) from util-linux holds the lock in another process for a moment.
	if _, err := exec.LookPath("flock"); err == nil {
		if out, err := exec.Command("flock", path, "true").CombinedOutput(); err != nil {
			t.Fatalf("flock: %v %s", err, out)
		}
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("acquire over a dead holder's file: %v", err)
	}
	l.Release()
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDefaultPath: the lock sits beside a unix socket, else in /run.
func TestDefaultPath(t *testing.T) {
	for endpoint, want := range map[string]string{
		"unix:/var/run/openvswitch/db.sock": "/var/run/openvswitch/ovsmesh.lock",
		"unix:/tmp/lab/h1/db.sock":          "/tmp/lab/h1/ovsmesh.lock",
		"tcp:127.0.0.1:6640":                "/run/ovsmesh.lock",
	} {
		if got := DefaultPath(endpoint); got != want {
			t.Errorf("DefaultPath(%q) = %q, want %q", endpoint, got, want)
		}
	}
}
