package ovsdb

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the package doc: ovsdb reaches no ovsmesh package but
// topology and its own models, and neither netlink nor os/exec.
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	out, err := exec.CommandContext(t.Context(), gobin, "list", "-deps", ".", "./vswitchd").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/ovsmesh/ovsmesh/ovsdb":          true,
		"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd": true,
		"github.com/ovsmesh/ovsmesh/topology":       true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "os/exec", strings.Contains(pkg, "vishvananda/netlink"):
			t.Errorf("ovsdb depends on %s", pkg)
		case strings.HasPrefix(pkg, "github.com/ovsmesh/ovsmesh/") && !allowed[pkg]:
			t.Errorf("ovsdb depends on %s", pkg)
		}
	}
}
