package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestTreeRollingUpdate is a re-tree caught halfway: a chain docker1-2-3-4 (and a
// spare link 1-4 at cost 5) whose 2-3 link becomes expensive. docker1 and docker4
// take the new file (tree 2-1-4-3) while docker2 and docker3 still run the old
// one (1-2-3-4). The tunnels both ends have would form the cycle 1-2-3-4-1 (a
// broadcast storm with NORMAL); the tree key keeps the versions apart instead:
// no loop, the hosts that agree keep talking, and once all four have the new file
// every pair talks at once, with no MAC learned during the change in the way.
func TestTreeRollingUpdate(t *testing.T) {
	t.Parallel()
	hosts := []string{"docker1", "docker2", "docker3", "docker4"}
	links := func(cost23 int) []string {
		return []string{"{a: docker1, b: docker2, cost: 1}",
			"{a: docker2, b: docker3, cost: " + strconv.Itoa(cost23) + "}",
			"{a: docker3, b: docker4, cost: 1}", "{a: docker1, b: docker4, cost: 5}"}
	}
	c := newCluster(t, labTopology("  encap: gre\n  mode: tree\n", 4, links(1)...))
	c.mustApply()
	cts := map[string]*lab.Container{}
	for _, h := range hosts {
		cts[h] = treeContainer(t, c, h)
	}
	pingAll(t, hosts, cts)

	newFile := filepath.Join(c.dir, "new.yaml")
	if err := os.WriteFile(newFile, []byte(labTopology("  encap: gre\n  mode: tree\n", 4, links(10)...)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"docker1", "docker4"} {
		if out, code := badApply(t, c, h, newFile); code != 0 {
			t.Fatalf("apply of the new file on %s: exit %d\n%s", h, code, out)
		}
	}
	t.Run("halfway: no loop, and the hosts that agree keep talking", func(t *testing.T) {
		// From docker1 (new): docker4 (new, its neighbour) gets it once; the old
		// hosts, on another key, not at all.
		broadcastNoStorm(t, c, hosts, cts, map[string][2]int{"docker4": {1, 1}})
		ping(t, cts["docker1"], addr(cts["docker4"].Addr), 56, false) // new tree: neighbours
		ping(t, cts["docker2"], addr(cts["docker3"].Addr), 56, false) // old tree: neighbours
	})

	for _, h := range []string{"docker2", "docker3"} {
		if out, code := badApply(t, c, h, newFile); code != 0 {
			t.Fatalf("apply of the new file on %s: exit %d\n%s", h, code, out)
		}
	}
	c.write(labTopology("  encap: gre\n  mode: tree\n", 4, links(10)...)) // the plan the checks read
	t.Run("all agree: every pair talks at once", func(t *testing.T) {
		start := time.Now()
		pingAll(t, hosts, cts)
		t.Logf("every pair answered within %v of the last apply", time.Since(start).Round(time.Millisecond))
		stpBroadcastOnceNoStorm(t, c, hosts, cts)
	})
}

// TestTreeStarGrows: without links the tree is a star around the lowest index. A
// new host whose name sorts first joins as a leaf: on the hosts that had the tree
// before, only the centre gains a tunnel, and nothing else changes.
func TestTreeStarGrows(t *testing.T) {
	t.Parallel()
	three := labTopology("  encap: gre\n  mode: tree\n", 3)
	four := three + "  - {name: aaa, address: 198.18.0.4, index: 4}\n"
	c := newCluster(t, four)
	c.write(three)
	c.mustApply("docker1", "docker2", "docker3")
	before := map[string]string{}
	for _, h := range []string{"docker2", "docker3"} {
		before[h] = driftIface(c, h, "gre-docker1", true)
	}
	c.write(four)
	c.mustApply()
	treeCheckEdges(t, c, []string{"docker1", "docker2", "docker3", "aaa"}, "aaa-docker1", "docker1-docker2", "docker1-docker3")
	for h, b := range before {
		if got := driftIface(c, h, "gre-docker1", true); got != b {
			t.Errorf("%s: its tunnel to the centre changed when aaa joined:\n%s\nwas:\n%s", h, got, b)
		}
	}
	cts := map[string]*lab.Container{}
	for _, h := range []string{"docker2", "aaa"} {
		cts[h] = treeContainer(t, c, h)
	}
	ping(t, cts["aaa"], addr(cts["docker2"].Addr), 56, false)
}
