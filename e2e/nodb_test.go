package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyWithoutOVSDB: a single apply that cannot reach ovsdb-server reports
// the OVSDB step's error, leaves the flow table unchecked (ovs-vswitchd may not
// answer OpenFlow then) and still runs the other steps: the files are written,
// and docker0 reports the bridge it cannot attach. Nothing reaches the host's
// real database.
func TestApplyWithoutOVSDB(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	const host = "docker1"
	log := idemJSONRPCLog(t, c, host)
	mark := log.mark(t)
	nosock := "unix:" + filepath.Join(c.dir, "nosuch.sock")
	out, code := badApply(t, c, host, c.path, "--db", nosock)
	t.Logf("apply with --db %s (exit %d):\n%s", nosock, code, out)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{
		"ovsdb: connect to ovsdb-server at " + nosock,
		"openflow: not checked while ovsdb-server is unreachable",
		`docker0: port "br0" of docker bridge "docker0": no such link`,
		"files:   write ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, f := range []string{"interfaces", "daemon.json"} {
		if b, err := os.ReadFile(filepath.Join(c.dir, host, f)); err != nil || len(b) == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if tx := log.transacts(t, mark); len(tx) > 0 {
		t.Errorf("%d transact requests reached the host's database, want none", len(tx))
	}
}
