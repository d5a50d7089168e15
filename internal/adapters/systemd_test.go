package adapters

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/internal/sdnotify"
	"github.com/ovsmesh/ovsmesh/topology"
)

// TestSystemdObserver: READY=1 comes once, with the first pass that succeeded;
// every pass sends a STATUS= line that says how it went.
func TestSystemdObserver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, err := sdnotify.New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var logs bytes.Buffer
	o := NewSystemdObserver(n, slog.New(slog.NewTextHandler(&logs, nil)))
	read := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:k])
	}
	failed := controller.Result{Host: "docker1", Steps: []controller.Step{{Name: controller.StepBridge, Err: errors.New("link \"docker0\" exists with type \"veth\"")}}}
	ok := controller.Result{Host: "docker1", Want: topology.HostState{OVS: topology.OVSState{Tunnels: make([]topology.Tunnel, 2)}}}
	dockerDiffers := controller.Result{Host: "docker1", Steps: []controller.Step{{Name: controller.StepDocker,
		Err: errors.New(`Docker's network "bridge" has MTU 1500, the plan 1462: restart Docker to apply daemon.json`)}}}
	for _, c := range []struct {
		res     controller.Result
		loadErr error
		want    string
	}{
		{failed, nil, "STATUS=not ready, retrying: first passes failed: docker0: link \"docker0\" exists with type \"veth\"\n"},
		// Docker starts (or restarts) only once ovsmesh is ready.
		{dockerDiffers, nil, "READY=1\nSTATUS=last pass failed: docker: Docker's network \"bridge\" has MTU 1500, the plan 1462: restart Docker to apply daemon.json\n"},
		{ok, nil, "STATUS=converged: 2 tunnels\n"},
		{ok, nil, "STATUS=converged: 2 tunnels\n"},
		{failed, nil, "STATUS=last pass failed: docker0: link \"docker0\" exists with type \"veth\"\n"},
		{ok, errors.New("bad.yaml:2:10: network.encap: \"geneve\" is not one of gre, vxlan"),
			"STATUS=converged with the last good topology (2 tunnels); topology file not loaded: bad.yaml:2:10: network.encap: \"geneve\" is not one of gre, vxlan\n"},
		{ok, nil, "STATUS=converged: 2 tunnels\n"},
	} {
		if c.loadErr != nil {
			o.LoadError(c.loadErr)
		}
		o.Pass(context.Background(), c.res)
		if got := read(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if long := clip(string(bytes.Repeat([]byte("x"), 1000))); len(long) != maxStatus {
		t.Errorf("clip: %d bytes, want %d", len(long), maxStatus)
	}
}
