package linuxbridge

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the package doc: linuxbridge reaches topology and netlink,
// never OVSDB, go-openvswitch, os/exec or another ovsmesh package.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/ovsmesh/ovsmesh/") &&
			dep != "github.com/ovsmesh/ovsmesh/linuxbridge" && dep != "github.com/ovsmesh/ovsmesh/topology",
			strings.Contains(dep, "libovsdb"), strings.Contains(dep, "go-openvswitch"), dep == "os/exec":
			t.Errorf("linuxbridge depends on %s", dep)
		}
	}
}
