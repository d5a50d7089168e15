package agent

import (
	"bytes"
	"os"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/ifupdown"
	"github.com/ovsmesh/ovsmesh/topology"
)

// The saved view (Config.ViewFile) keeps the last good view for reboots and
// etcd outages. It starts with a header line naming the last etcd revision
// seen (fleet.ViewFile), so it is rewritten whenever the revision moves; the
// rest is the view's topology file, which `status --view-file` and an operator
// can read as such.

// save writes s to the saved view if its text or revision changed, atomically;
// a.mu is held.
func (a *Agent) save(s fleet.Snapshot) error {
	if bytes.Equal(s.Text, a.written) && s.Revision == a.writtenRev {
		return nil
	}
	if old, err := os.ReadFile(a.ViewFile); err != nil || !sameView(old, s) {
		// Through a synced temporary file renamed over the view, the directory
		// synced: a crash leaves the old view or the new one, never an empty file.
		if _, err := ifupdown.WriteIfChanged(a.ViewFile, fleet.ViewFile(a.Client.Keys.Cluster, s.Revision, s.Text), 0o644); err != nil {
			return err
		}
	}
	a.written, a.writtenRev = s.Text, s.Revision
	return nil
}

// sameView says whether a saved view file holds s's text at s's revision.
func sameView(file []byte, s fleet.Snapshot) bool {
	_, rev, text, ok := fleet.ParseViewFile(file)
	return ok && rev == s.Revision && bytes.Equal(text, s.Text)
}

// LoadSaved puts the saved view in force if it holds a usable topology with
// this host, and says whether it did. A file saved by an older ovsmesh without
// the header line is read as a topology file.
func (a *Agent) LoadSaved() bool {
	data, err := os.ReadFile(a.ViewFile)
	if err != nil {
		return false
	}
	_, rev, text, _ := fleet.ParseViewFile(data)
	t, err := topology.Compile(a.ViewFile, text)
	if err != nil {
		return false
	}
	if _, err := t.Host(a.Host); err != nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.view, a.text = t, text
	a.Log.Debug("fleet: saved view loaded", "path", a.ViewFile, "revision", rev)
	return true
}
