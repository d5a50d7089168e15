package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocker: a real dockerd in a lab host runs a container from the lab's
// image; the container reaches its gateway, comes back with its restart policy
// after a Docker restart, and Close leaves no dockerd, container or cgroup.
func TestDocker(t *testing.T) {
	short(t)
	RequireBinaries(t, DockerBinaries()...)
	l := NewT(t, HostSpec{Name: "d1"})
	ctx := testCtx(t)
	h := l.Host("d1")
	if err := h.StartDocker(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := h.RunContainer(ctx, "c1", "--restart", "always")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Addr.IsValid() || !c.GW.IsValid() || c.MAC == "" {
		t.Fatalf("container c1: addr %v gw %v mac %q", c.Addr, c.GW, c.MAC)
	}
	if err := c.Ping(ctx, c.GW, 0, false); err != nil {
		t.Fatal(err)
	}
	if err := h.RestartDocker(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Reattach(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx, c.GW, 0, false); err != nil {
		t.Fatalf("after a Docker restart: %v", err)
	}
	dockerd := h.dockerProc()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if dockerd.running() {
		t.Errorf("dockerd %s still runs after Close", dockerd)
	}
	left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", h.dockerCgroup()))
	if len(left) > 0 {
		t.Errorf("cgroups left after Close: %s", strings.Join(left, " "))
	}
	if _, err := os.Stat(l.Dir); !os.IsNotExist(err) {
		t.Errorf("lab directory %s left after Close: %v", l.Dir, err)
	}
}
