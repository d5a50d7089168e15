package dockerapi

import (
	"context"
	"maps"
	"testing"
)

// TestNetworkViews: a network ovsmesh made is ours, one of the same name it did
// not make exists, one Docker lacks is missing; nothing is written.
func TestNetworkViews(t *testing.T) {
	other := appNet
	other.Name = "db"
	f := newNetFake(t, dockerNet(appNet, ours), dockerNet(other, map[string]string{"x": "y"}))
	c := newClient(t, f.host)
	got, err := c.NetworkViews(context.Background(), []string{"app", "db", "web"})
	want := map[string]string{"app": NetworkOurs, "db": NetworkExists, "web": NetworkMissing}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if w := f.takeWrites(); w != "" {
		t.Fatalf("wrote %q", w)
	}
}
