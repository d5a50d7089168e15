package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFleetStatusShowsTheViewRevision: `ovsmesh status --view-file` shows the
// etcd revision of the view each host applies; the members agree on it, and
// when a host joins they all move to the same, later revision.
func TestFleetStatusShowsTheViewRevision(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	two := []string{"docker1", "docker2"}
	for _, h := range two {
		launchLoop(t, f.cluster, h, loopOpts{fleet: f, wait: true})
	}
	f.waitMembers(t, two, two)
	rev := f.checkViewRevisions(t, two, 0)

	launchLoop(t, f.cluster, "docker3", loopOpts{fleet: f, wait: true})
	three := append(two, "docker3")
	f.waitMembers(t, three, three)
	f.checkViewRevisions(t, three, rev)

	// The text output says it too.
	out := f.hostStatus(t, "docker1")
	if !strings.Contains(out, "fleet "+fleetCluster+": view ") || !strings.Contains(out, "at etcd revision") {
		t.Errorf("status --view-file (text) lacks the fleet view line:\n%s", out)
	}
}

// checkViewRevisions checks that every host of hosts shows the same view
// revision, later than after, with hosts as the view's hosts; it returns it.
func (f *fleetLab) checkViewRevisions(t *testing.T, hosts []string, after int64) int64 {
	t.Helper()
	var revs []int64
	// A host writes a new revision once its watch has it: wait for them to agree.
	poll(10*time.Second, func() bool {
		revs = nil
		for _, h := range hosts {
			out := f.hostStatus(t, h, "-o", "json")
			var rep struct {
				Fleet *struct {
					Cluster  string   `json:"cluster"`
					Revision int64    `json:"revision"`
					Hosts    []string `json:"hosts"`
				} `json:"fleet"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Fleet == nil {
				t.Fatalf("%s: status -o json --view-file: %v, no fleet section:\n%s", h, err, out)
			}
			if rep.Fleet.Cluster != fleetCluster || !slices.Equal(rep.Fleet.Hosts, hosts) {
				t.Errorf("%s: status shows cluster %q hosts %q, want %q %q", h, rep.Fleet.Cluster, rep.Fleet.Hosts, fleetCluster, hosts)
			}
			revs = append(revs, rep.Fleet.Revision)
		}
		return slices.Min(revs) == slices.Max(revs) && revs[0] > after
	})
	t.Logf("view revisions shown by status on %v: %v (fleet status: %d)", hosts, revs, f.status(t).Revision)
	if slices.Min(revs) != slices.Max(revs) || revs[0] <= after {
		t.Errorf("view revisions %v on %v: want one revision, later than %d", revs, hosts, after)
	}
	return revs[0]
}

// hostStatus runs `ovsmesh status --view-file` on host.
func (f *fleetLab) hostStatus(t *testing.T, host string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := f.host(host)
	argv := append([]string{ovsmeshBin, "status", "--db", h.DB(), "--view-file", f.viewFile(host)}, extra...)
	out, err := h.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: status --view-file: %v\n%s", host, err, out)
	}
	return string(out)
}
