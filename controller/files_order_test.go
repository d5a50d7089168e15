package controller

import (
	"errors"
	"strings"
	"testing"
)

// TestDaemonJSONWaitsForDocker0: while the docker0 step fails, daemon.json is not
// written (a Docker started then would build a bridge of its own and keep it); the
// next pass that builds docker0 writes it.
func TestDaemonJSONWaitsForDocker0(t *testing.T) {
	r, s, _ := newFake(t, "classic-gre.yaml")
	br := r.Bridge.(*fakeBridge)
	br.err = errors.New("netlink: operation not permitted")
	res := r.Once(t.Context(), false)
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "files: daemon.json not written while the docker bridge is not ready") {
		t.Fatalf("pass with a failing docker0 step: %v", err)
	}
	if strings.Contains(s.String(), "daemon.json") {
		t.Fatalf("daemon.json written while docker0 failed:\n%s", s)
	}
	br.err = nil
	if res := r.Once(t.Context(), false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if !strings.Contains(s.String(), "daemon.json fixed-cidr=172.17.64.0/18") {
		t.Fatalf("daemon.json not written once docker0 is ready:\n%s", s)
	}
}
