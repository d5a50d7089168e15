package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// The fleet demo's etcd listens on an address of the lab's underlay bridge.
const (
	fleetAddr    = "198.18.0.250"
	fleetURL     = "http://" + fleetAddr + ":2379"
	fleetCluster = "demo"
)

// runFleet is the demo in fleet mode: etcd in the lab's underlay namespace, the
// topology file seeded into it with `fleet init`, then `apply --etcd` on every
// host (no topology file), `fleet status`, `status --view-file` and the pings.
func runFleet(ctx context.Context, cfg Config, w io.Writer) (err error) {
	start := time.Now()
	if _, err := exec.LookPath("etcd"); err != nil {
		return fmt.Errorf("the fleet demo needs etcd (apt-get install etcd-server): %w", err)
	}
	t, err := topology.Load(cfg.Topology)
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	say("== ovsmesh fleet demo: %d hosts seeded from %s into etcd (cluster %q)", len(t.Hosts), cfg.Topology, fleetCluster)
	var specs []lab.HostSpec
	for _, h := range t.Hosts {
		specs = append(specs, lab.HostSpec{Name: h.Name, Underlay: netip.PrefixFrom(h.Address, 24)})
	}
	l, err := lab.New(ctx, specs)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ovsmesh-demo-fleet-")
	if err != nil {
		return errors.Join(err, l.Close())
	}
	stop, err := startEtcd(ctx, l, dir)
	defer func() {
		stop()
		err = errors.Join(err, l.Close())
		os.RemoveAll(dir)
		say("lab and etcd torn down")
	}()
	if err != nil {
		return err
	}
	say("etcd at %s in the underlay namespace %s", fleetURL, l.UnderlayNS)
	flags := []string{"--etcd", fleetURL, "--etcd-insecure", "--cluster", fleetCluster}
	h1 := l.Host(t.Hosts[0].Name)
	var out string
	for range 40 { // etcd needs a second or two to serve
		if out, err = h1.Run(ctx, append([]string{cfg.Binary, "fleet", "init", cfg.Topology}, flags...)...); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	say("\n== ovsmesh fleet init %s", cfg.Topology)
	indent(w, out)
	if err != nil {
		return err
	}
	if err := startDockers(ctx, w, l, "start", (*lab.Host).StartDocker); err != nil {
		return err
	}
	for i, h := range t.Hosts {
		if err := fleetApply(ctx, w, l.Host(h.Name), cfg, dir, i, flags); err != nil {
			return err
		}
	}
	if err := startDockers(ctx, w, l, "restart once, so that it reads daemon.json", (*lab.Host).RestartDocker); err != nil {
		return err
	}
	if err := showDocker(ctx, w, l); err != nil {
		return err
	}
	out, err = h1.Run(ctx, append([]string{cfg.Binary, "fleet", "status"}, flags...)...)
	say("\n== ovsmesh fleet status")
	indent(w, out)
	if err != nil {
		return err
	}
	return pingAll(ctx, w, l, t, time.Since(start), "every host applying the view it read from etcd, with no topology file")
}

// fleetApply runs a one-shot `apply --etcd` on h, then `status --view-file`.
func fleetApply(ctx context.Context, w io.Writer, h *lab.Host, cfg Config, dir string, i int, flags []string) error {
	files := filepath.Join(dir, h.Name)
	if err := os.MkdirAll(files, 0o755); err != nil {
		return err
	}
	id := filepath.Join(files, "machine-id")
	if err := os.WriteFile(id, []byte(fmt.Sprintf("de70%028x\n", i+1)), 0o644); err != nil {
		return err
	}
	view := filepath.Join(files, "view.yaml")
	fmt.Fprintf(w, "\n== %s: ovsmesh apply --etcd %s (no topology file)\n", h.Name, fleetURL)
	out, err := h.Run(ctx, append([]string{cfg.Binary, "apply", "--host", h.Name, "--db", h.DB(),
		"--interfaces", filepath.Join(files, "interfaces"), "--daemon-json", h.DaemonJSON(),
		"--address", h.Underlay.String(), "--machine-id-file", id, "--view-file", view,
		"--docker-host", h.DockerHost()}, flags...)...)
	indent(w, summarize(out))
	if err != nil && !waitsForDocker(out) {
		return err
	}
	// Only the fleet lines are shown: Docker is compared after its restart.
	out, err = h.Run(ctx, cfg.Binary, "status", "--db", h.DB(), "--view-file", view,
		"--docker-host", "unix://"+filepath.Join(files, "no-docker.sock"))
	if err != nil {
		indent(w, out)
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "fleet ") {
			indent(w, line)
		}
	}
	return nil
}

// startEtcd starts etcd in the lab's underlay namespace (fleet init waits for it).
func startEtcd(ctx context.Context, l *lab.Lab, dir string) (stop func(), err error) {
	for _, argv := range [][]string{
		{"ip", "-n", l.UnderlayNS, "addr", "add", fleetAddr + "/24", "dev", "br-ul"},
		// The hosts' end of the underlay is a port of a netdev bridge: etcd's TCP
		// must leave with its checksums computed.
		{"ip", "netns", "exec", l.UnderlayNS, "ethtool", "-K", "br-ul", "tx", "off"},
	} {
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return func() {}, fmt.Errorf("prepare etcd's address: %v: %w: %s", argv, err, out)
		}
	}
	peer := "http://127.0.0.1:2380"
	cmd := exec.Command("ip", "netns", "exec", l.UnderlayNS, "etcd", "--name", "demo", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", fleetURL, "--advertise-client-urls", fleetURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "demo="+peer)
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return func() {}, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return func() {}, fmt.Errorf("start etcd: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	return stop, nil
}
