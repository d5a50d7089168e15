package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/ifupdown"
	"github.com/ovsmesh/ovsmesh/topology"
)

// A fleet host keeps two files. The saved view (--view-file) starts with a
// header line naming the last etcd revision seen, so it is rewritten whenever
// the revision moves: every liveness lease granted anywhere in the fleet moves
// it. The reconcile loop applies the second file, the same topology without
// that header, which is rewritten only when the view itself changes: a
// revision that changes nothing for the view makes no reconcile pass.

// appliedPath is the file the loop applies, next to the saved view:
// lab.view.yaml gives lab.view.topology.yaml.
func appliedPath(view string) string {
	return strings.TrimSuffix(view, ".yaml") + ".topology.yaml"
}

// appliedHeader is the first line of the applied file.
const appliedHeader = "# fleet %s: the view this host applies, as of etcd revision %d (the last revision seen is in %s)\n"

// write saves a view: the saved view if its text or revision changed, the
// applied file only if its text changed (both atomically). Only a change of the
// view itself is logged.
func (a *fleetAgent) write(s fleet.Snapshot) error {
	if bytes.Equal(s.Text, a.written) && s.Revision == a.writtenRev {
		return nil
	}
	if old, err := os.ReadFile(a.view); err != nil || !sameView(old, s) {
		if err := writeAtomic(a.view, fleet.ViewFile(a.c.Keys.Cluster, s.Revision, s.Text)); err != nil {
			return err
		}
	}
	changed, err := a.writeApplied(s.Revision, s.Text)
	if err != nil {
		return err
	}
	a.written, a.writtenRev = s.Text, s.Revision
	if !changed {
		return nil
	}
	names := make([]string, 0, len(s.Topology.Hosts))
	for _, h := range s.Topology.Hosts {
		names = append(names, h.Name)
	}
	a.log.Info("fleet view changed", "revision", s.Revision, "hosts", names, "held", s.Held, "path", a.view)
	return nil
}

// sameView says whether a saved view file holds s's text at s's revision.
func sameView(file []byte, s fleet.Snapshot) bool {
	_, rev, text, ok := fleet.ParseViewFile(file)
	return ok && rev == s.Revision && bytes.Equal(text, s.Text)
}

// writeApplied writes the applied file unless it already holds text; changed
// says whether it was written.
func (a *fleetAgent) writeApplied(rev int64, text []byte) (changed bool, err error) {
	if old, err := os.ReadFile(a.applied); err == nil {
		if _, rest, found := bytes.Cut(old, []byte("\n")); found && bytes.Equal(rest, text) {
			return false, nil
		}
	}
	head := fmt.Sprintf(appliedHeader, a.c.Keys.Cluster, rev, a.view)
	if err := writeAtomic(a.applied, append([]byte(head), text...)); err != nil {
		return false, err
	}
	return true, nil
}

// writeAtomic replaces path with data, as every file ovsmesh writes: through
// a synced temporary file of a unique name, renamed over path, and the
// directory synced, so that a reader (the loop, status) never sees it half
// written and a crash leaves the old or the new view, never an empty file.
func writeAtomic(path string, data []byte) error {
	_, err := ifupdown.WriteIfChanged(path, data, 0o644)
	return err
}

// haveView says whether the saved view holds a usable topology with this host;
// if so, the applied file is made to hold it too (it is missing after an
// upgrade from a version that applied the saved view itself).
func (a *fleetAgent) haveView() bool {
	data, err := os.ReadFile(a.view)
	if err != nil {
		return false
	}
	_, rev, text, _ := fleet.ParseViewFile(data)
	t, err := topology.Compile(a.view, text)
	if err != nil {
		return false
	}
	if _, err := t.Host(a.host); err != nil {
		return false
	}
	if _, err := a.writeApplied(rev, text); err != nil {
		a.log.Error("fleet: the saved view could not be copied to the file the loop applies", "path", a.applied, "err", err)
		return false
	}
	return true
}
