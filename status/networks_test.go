package status

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestNetworksStatus: one line per network of the plan; Docker not answering
// shows as unknown, and a plan without networks writes nothing.
func TestNetworksStatus(t *testing.T) {
	want := []topology.NetworkState{{Name: "app", Bridge: "om-app"}, {Name: "db", Bridge: "om-db"}}
	nets := collectNetworks(context.Background(), "unix://"+filepath.Join(t.TempDir(), "none.sock"), want)
	var b bytes.Buffer
	writeNetworks(&b, nets)
	if golden := "network app: bridge om-app; Docker: unknown\nnetwork db: bridge om-db; Docker: unknown\n"; b.String() != golden {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), golden)
	}
	b.Reset()
	writeNetworks(&b, []Network{{Name: "app", Bridge: "om-app", Docker: "ours"}})
	if b.String() != "network app: bridge om-app; Docker: ours\n" {
		t.Errorf("ours: %q", b.String())
	}
	if got := collectNetworks(context.Background(), "unix:///nonexistent.sock", nil); got != nil {
		t.Errorf("no networks: %v", got)
	}
}
