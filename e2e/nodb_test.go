package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyWithoutOVSDB: a single apply that cannot reach ovsdb-server cannot
// tell whether the bridge is ovsmesh's, so it changes nothing at all: no file is
// written and docker0 is not built (a loop that verified the bridge in an
// earlier pass goes on repairing them during an outage: TestLoopSurvivesOVSRestarts).
// The error names the database, and nothing reaches the host's real database.
func TestApplyWithoutOVSDB(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	const host = "docker1"
	nosock := "unix:" + filepath.Join(c.dir, "nosuch.sock")
	badFreshUnchanged(t, c, host, rpcLog(t, c, host), func(t *testing.T) {
		out, code := badApply(t, c, host, c.path, "--db", nosock)
		t.Logf("apply with --db %s (exit %d):\n%s", nosock, code, out)
		if code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
		if want := "preflight: connect to ovsdb-server at " + nosock; !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	})
}
