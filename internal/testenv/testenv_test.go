package testenv

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of stopping.
type recorder struct {
	testing.TB
	got string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.got = "skip: " + fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.got = "fail: " + fmt.Sprintf(format, args...)
}

// TestMissingBinary: a missing command skips the test outside CI and fails it
// with CI=true, naming the command and its package either way.
func TestMissingBinary(t *testing.T) {
	for ci, want := range map[string]string{
		"":     "skip: no-such-cmd-x is not installed (Debian package no-such-pkg, which scripts/deps.sh installs)",
		"true": "fail: CI=true, so not skipping: no-such-cmd-x is not installed (Debian package no-such-pkg",
	} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		RequireBinary(r, "no-such-cmd-x", "no-such-pkg")
		if !strings.HasPrefix(r.got, want) {
			t.Errorf("CI=%q: %q, want it to start with %q", ci, r.got, want)
		}
		r = &recorder{TB: t}
		RequireBinaries(r, "sh", "no-such-cmd-x", "no-such-cmd-y")
		if !strings.HasSuffix(r.got, "missing commands: no-such-cmd-x, no-such-cmd-y") || strings.HasPrefix(r.got, "skip") == (ci == "true") {
			t.Errorf("CI=%q: RequireBinaries: %q", ci, r.got)
		}
	}
}

// TestStartOVS: the private OVS answers ovs-vsctl on its socket and ovs-ofctl
// by bridge name through $OVS_RUNDIR, with a netdev bridge in its namespace.
func TestStartOVS(t *testing.T) {
	o := StartOVS(t)
	o.Run(t, "ovs-vsctl", "--db="+o.DB(), "--timeout=30", "add-br", "br9", "--", "set", "Bridge", "br9", "datapath_type=netdev")
	if out := o.Run(t, "ovs-ofctl", "show", "br9"); !strings.Contains(out, "LOCAL(br9)") {
		t.Errorf("ovs-ofctl show br9:\n%s", out)
	}
	out, err := exec.Command("ip", "-n", o.NS, "link", "show", "br9").CombinedOutput()
	if err != nil {
		t.Errorf("br9 is not in namespace %s: %v: %s", o.NS, err, out)
	}
}
