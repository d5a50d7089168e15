package lab

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// inCI reports whether tests run in CI (CI=true), where end-to-end tests must
// fail instead of skipping.
func inCI() bool { return os.Getenv("CI") == "true" }

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true, so not skipping: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips t unless it runs as root; with CI=true it fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (network namespaces, Open vSwitch)")
	}
}

// RequireBinaries skips t unless every named command is in PATH (all the
// lab's commands if none are named); with CI=true it fails instead.
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	if len(names) == 0 {
		names = Binaries()
	}
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		skipOrFail(t, "missing commands: %s", strings.Join(missing, ", "))
	}
}

// NewT builds a lab for a test: it checks root and the lab's commands (see
// RequireRoot), calls New with t.Logf as logger and registers Close with
// t.Cleanup. It fails the test if New or Close fails. Hosts default to
// docker1 and docker2 if none are given.
func NewT(t testing.TB, hosts ...HostSpec) *Lab {
	t.Helper()
	RequireRoot(t)
	RequireBinaries(t)
	if len(hosts) == 0 {
		hosts = []HostSpec{{Name: "docker1"}, {Name: "docker2"}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := New(ctx, hosts, WithLogf(t.Logf))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}
