package linuxbridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
)

// container is a namespace with a process in it, as Docker's containers are.
func container(t *testing.T) (*testNS, int) {
	t.Helper()
	c := newNS(t)
	cmd := exec.Command("ip", "netns", "exec", c.name, "sleep", "600") // ip execs sleep: same pid
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c, cmd.Process.Pid
}

// TestVeth: the host-side veth of a container is found from the container's
// side whatever its interfaces are called and whatever MAC they carry; a veth
// pair inside the container, and its veth on another bridge, are not taken
// for it.
func TestVeth(t *testing.T) {
	host := newNS(t)
	ctr, pid := container(t)
	host.ip(t, "link", "add", "docker0", "type", "bridge")
	host.ip(t, "link", "add", "br-app", "type", "bridge")
	for _, p := range [][2]string{{"vethd0", "docker0"}, {"vetha0", "br-app"}} {
		host.ip(t, "link", "add", p[0], "type", "veth", "peer", "name", p[0]+"c")
		host.ip(t, "link", "set", p[0]+"c", "netns", ctr.name)
		host.ip(t, "link", "set", p[0], "master", p[1])
	}
	ctr.ip(t, "link", "set", "vethd0c", "name", "eth0")
	ctr.ip(t, "link", "set", "eth0", "address", "02:42:ac:11:00:09") // a forged MAC changes nothing
	ctr.ip(t, "link", "add", "decoy0", "type", "veth", "peer", "name", "decoy1")
	b := New(host.h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for bridge, want := range map[string]string{"docker0": "vethd0", "br-app": "vetha0"} {
		if got, err := b.Veth(ctx, bridge, pid); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", bridge, got, err, want)
		}
	}
	host.ip(t, "link", "set", "vetha0", "nomaster")
	_, err := b.Veth(ctx, "br-app", pid)
	if !errors.Is(err, ErrNoVeth) {
		t.Errorf("detached: %v", err)
	}
	t.Log(err)
	if _, err := b.Veth(ctx, "docker0", 0); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("pid 0: %v", err)
	}
	if _, err := b.Veth(ctx, "docker9", pid); err == nil || !strings.Contains(err.Error(), "read bridge docker9") {
		t.Errorf("no bridge: %v", err)
	}
}
