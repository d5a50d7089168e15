// Package hostlock makes ovsmesh the only writer of one Open vSwitch instance: a
// one-shot `ovsmesh apply` next to the running service would otherwise revert the
// service's changes and the service revert its own, every few hundred milliseconds.
//
// It holds an advisory flock(2) on a file that also names the holder (pid, start
// time, command line), so that the refusal can say who holds it. The kernel drops
// the lock when the holder exits, however it exits: a stale file never blocks.
// It imports the standard library and golang.org/x/sys/unix only.
package hostlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrHeld is wrapped by Acquire's error when another process holds the lock.
var ErrHeld = errors.New("is held by another ovsmesh")

// Lock is a held lock; Release gives it up.
type Lock struct{ f *os.File }

// Acquire takes the lock at path without waiting, creating the file (and its
// directory) if needed, and writes this process's pid and command line into it.
// When another process holds it, the error wraps ErrHeld and quotes what that
// process wrote.
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s %w (%s): only one ovsmesh may change this host's Open vSwitch at a time; stop the other one (e.g. systemctl stop ovsmesh) or let it apply the topology",
				path, ErrHeld, describe(holder))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	info := fmt.Sprintf("pid=%d since=%s cmd=%s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), strings.Join(os.Args, " "))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0) // informative only: the flock is the lock
	}
	return &Lock{f: f}, nil
}

// describe turns the holder's line into "pid 123 since ...: ovsmesh apply ...".
func describe(holder []byte) string {
	line := strings.TrimSpace(string(holder))
	if line == "" {
		return "holder unknown"
	}
	var pid, since, cmd string
	for _, field := range strings.SplitN(line, " ", 3) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "pid":
			pid = v
		case "since":
			since = v
		case "cmd":
			cmd = v
		}
	}
	if i := strings.Index(line, "cmd="); i >= 0 {
		cmd = line[i+len("cmd="):]
	}
	return fmt.Sprintf("pid %s since %s: %s", pid, since, cmd)
}

// Release gives the lock up. The file stays: removing it would let a process that
// opened the old file and one that creates a new one both hold "the" lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}

// DefaultPath is where the lock of the Open vSwitch instance whose database is
// at the OVSDB endpoint lives: ovsmesh.lock in the directory of a unix socket
// (one lock per instance), else /run/ovsmesh.lock.
func DefaultPath(endpoint string) string {
	if p, ok := strings.CutPrefix(endpoint, "unix:"); ok {
		return filepath.Join(filepath.Dir(p), "ovsmesh.lock")
	}
	return "/run/ovsmesh.lock"
}
