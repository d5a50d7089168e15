package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFleetOneShotApplyFindsItsAddress: a one-shot `apply --etcd` with no
// --address registers the address of the interface that carries the default
// route, refuses when there is none or more than one, and makes one pass; a
// second machine under the same name is refused.
func TestFleetOneShotApplyFindsItsAddress(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	h := f.host("docker1")
	oneShot := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		argv := append([]string{ovsmeshBin, "apply", "--host", "docker1", "--db", h.DB(),
			"--interfaces", filepath.Join(f.dir, "docker1", "interfaces"), "--daemon-json", filepath.Join(f.dir, "docker1", "daemon.json"),
			"--machine-id-file", f.machineID("docker1"), "--view-file", f.viewFile("docker1")}, f.etcdFlags()...)
		out, err := h.Command(ctx, argv...).CombinedOutput()
		return string(out), err
	}
	ip := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := h.Run(ctx, append([]string{"ip"}, args...)...); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	if out, err := oneShot(); err == nil || !strings.Contains(out, "no default route") || !strings.Contains(out, "--address") {
		t.Errorf("no default route: %v\n%s", err, out)
	}
	ip("route", "add", "default", "via", fleetEtcdAddr, "dev", "br-phy")
	ip("addr", "add", "198.18.0.101/24", "dev", "br-phy")
	if out, err := oneShot(); err == nil || !strings.Contains(out, "ambiguous") || !strings.Contains(out, "198.18.0.101") {
		t.Errorf("two addresses on the default route's interface: %v\n%s", err, out)
	}
	ip("addr", "del", "198.18.0.101/24", "dev", "br-phy")
	out, err := oneShot()
	if err != nil || !strings.Contains(out, "fleet lab at etcd revision") || !strings.Contains(out, "matches the plan") {
		t.Fatalf("one-shot apply --etcd: %v\n%s", err, out)
	}
	st := f.status(t)
	if len(st.Members) != 1 || st.Members[0].Address != "198.18.0.1" || st.Members[0].Index != 1 {
		t.Errorf("members after the one-shot apply: %+v, want docker1 at 198.18.0.1 with index 1", st.Members)
	}
	if f.viewHosts("docker1") == nil {
		t.Error("one-shot apply saved no view")
	}
	if got := f.vsctl("docker1", "br-exists", "br0"); got != "" {
		t.Errorf("br-exists br0: %q", got)
	}

	f.checkCloneRefused(t)
}

// checkCloneRefused: docker2's machine calling itself docker1 is refused and
// changes nothing.
func (f *fleetLab) checkCloneRefused(t *testing.T) {
	t.Helper()
	h2 := f.host("docker2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{ovsmeshBin, "apply", "--host", "docker1", "--db", h2.DB(), "--address", h2.Underlay.String(),
		"--interfaces", filepath.Join(f.dir, "docker2", "interfaces"), "--daemon-json", filepath.Join(f.dir, "docker2", "daemon.json"),
		"--machine-id-file", f.machineID("docker2"), "--view-file", f.viewFile("docker2")}, f.etcdFlags()...)
	clone, err := h2.Command(ctx, argv...).CombinedOutput()
	if err == nil || !strings.Contains(string(clone), "belongs to another machine") {
		t.Errorf("a second machine named docker1: %v\n%s", err, clone)
	}
	if st := f.status(t); len(st.Members) != 1 || st.Members[0].Address != "198.18.0.1" {
		t.Errorf("members after the refused join: %+v", st.Members)
	}
	if f.viewHosts("docker2") != nil {
		t.Error("the refused join saved a view")
	}
}
