package lab

import (
	"context"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// RequireRoot skips t unless it runs as root; with CI=true it fails instead
// (testenv's skip policy).
func RequireRoot(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t, "network namespaces, Open vSwitch")
}

// RequireBinaries skips t unless every named command is in PATH (all the
// lab's commands if none are named); with CI=true it fails instead
// (testenv's skip policy).
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	if len(names) == 0 {
		names = Binaries()
	}
	testenv.RequireBinaries(t, names...)
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
