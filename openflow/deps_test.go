package openflow

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the package doc: openflow reaches topology and
// go-openvswitch, never OVSDB, netlink or another ovsmesh package.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/ovsmesh/ovsmesh/") &&
			dep != "github.com/ovsmesh/ovsmesh/openflow" && dep != "github.com/ovsmesh/ovsmesh/topology",
			strings.Contains(dep, "libovsdb"), strings.Contains(dep, "vishvananda"):
			t.Errorf("openflow depends on %s", dep)
		}
	}
}
