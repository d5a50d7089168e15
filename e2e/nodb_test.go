package e2e

import (
	"os"
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
	log := idemJSONRPCLog(t, c, host)
	mark := log.mark(t)
	before := badState(t, c, host)
	nosock := "unix:" + filepath.Join(c.dir, "nosuch.sock")
	out, code := badApply(t, c, host, c.path, "--db", nosock)
	t.Logf("apply with --db %s (exit %d):\n%s", nosock, code, out)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if want := "preflight: connect to ovsdb-server at " + nosock; !strings.Contains(out, want) {
		t.Errorf("output lacks %q", want)
	}
	for _, f := range []string{"interfaces", "daemon.json"} {
		if _, err := os.Stat(filepath.Join(c.dir, host, f)); !os.IsNotExist(err) {
			t.Errorf("%s written without a verified bridge (stat: %v)", f, err)
		}
	}
	badCompare(t, before, badState(t, c, host))
	if tx := log.transacts(t, mark); len(tx) > 0 {
		t.Errorf("%d transact requests reached the host's database, want none", len(tx))
	}
}
