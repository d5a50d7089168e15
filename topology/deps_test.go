package topology

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure enforces the package's contract: topology imports nothing from the rest
// of ovsmesh, and nothing that reaches OVSDB, netlink or other processes.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/ovsmesh/ovsmesh/", "libovsdb", "vishvananda", "go-openvswitch", "os/exec", "net/http"}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/ovsmesh/ovsmesh/topology" {
			continue
		}
		for _, f := range forbidden {
			if strings.Contains(dep, f) {
				t.Errorf("topology depends on %s", dep)
			}
		}
	}
}
