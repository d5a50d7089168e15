// Package demo is `make demo`: it brings up a lab of hosts (internal/lab), each
// running a real dockerd, for a topology file, runs the real ovsmesh binary's
// apply on every host, restarts Docker once as the README says, shows the plan,
// the Open vSwitch state and Docker's own view of its network, and proves with
// pings between `docker run` containers on different hosts (a full-MTU DF ping
// among them) that the mesh carries traffic. It must not import the adapters: it
// drives the binary. It is a developer tool, not part of the product.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Config is what Run needs.
type Config struct {
	Topology string // topology file, e.g. examples/lab.yaml
	Binary   string // the ovsmesh binary
	Keep     bool   // leave the lab up (see StateFile)
	// StateFile receives the lab's state when Keep is set, for `ovsmesh-lab down`.
	StateFile string
	Fleet     bool // fleet mode: the topology is seeded into etcd, hosts apply from it (no Keep)
}

// Run runs the demo and writes its story to w. It returns an error if any check
// failed; the lab is torn down unless cfg.Keep.
func Run(ctx context.Context, cfg Config, w io.Writer) (err error) {
	if cfg.Fleet {
		return runFleet(ctx, cfg, w)
	}
	start := time.Now()
	t, err := topology.Load(cfg.Topology)
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	say("== ovsmesh demo: %d hosts from %s (%s %s, mtu %d, subnet %s)", len(t.Hosts), cfg.Topology,
		t.Network.Encap, t.Network.Mode, t.Network.MTU, t.Network.Subnet)
	var specs []lab.HostSpec
	for _, h := range t.Hosts {
		specs = append(specs, lab.HostSpec{Name: h.Name, Underlay: netip.PrefixFrom(h.Address, 24)})
	}
	l, err := lab.New(ctx, specs)
	if err != nil {
		return err
	}
	say("lab %s: one network namespace per host, each with its own ovsdb-server and ovs-vswitchd (userspace datapath), underlay %s...", l.ID, specs[0].Underlay.Masked())
	defer func() {
		if cfg.Keep && err == nil {
			err = keep(l, cfg.StateFile)
			if err == nil {
				say("lab left up; tear it down with: make demo-down")
			}
			return
		}
		err = errors.Join(err, l.Close())
		say("lab torn down")
	}()
	dir, err := os.MkdirTemp("", "ovsmesh-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := startDockers(ctx, w, l, "start", (*lab.Host).StartDocker); err != nil {
		return err
	}
	for _, h := range t.Hosts {
		if err := applyHost(ctx, w, l.Host(h.Name), cfg, dir, t); err != nil {
			return err
		}
	}
	if err := startDockers(ctx, w, l, "restart once, so that it reads daemon.json", (*lab.Host).RestartDocker); err != nil {
		return err
	}
	if err := showDocker(ctx, w, l); err != nil {
		return err
	}
	for _, h := range t.Hosts {
		if err := applyAgain(ctx, w, l.Host(h.Name), cfg, dir); err != nil {
			return err
		}
	}
	return pingAll(ctx, w, l, t, time.Since(start), "and a second apply changes nothing")
}

// applyArgv is `ovsmesh apply` on h, with the demo's copies of the files and
// h's own Docker.
func applyArgv(h *lab.Host, cfg Config, dir string) []string {
	return []string{cfg.Binary, "apply", cfg.Topology, "--host", h.Name, "--db", h.DB(),
		"--interfaces", filepath.Join(dir, h.Name, "interfaces"), "--daemon-json", h.DaemonJSON(),
		"--docker-host", h.DockerHost()}
}

// waitsForDocker reports whether a failed apply failed only because Docker has not
// read daemon.json yet, as before the restart the README asks for: the only error
// apply lists after "does not match the plan:" is the docker step's.
func waitsForDocker(out string) bool {
	_, errs, ok := strings.Cut(out, "does not match the plan:\n")
	if !ok {
		return false
	}
	for line := range strings.SplitSeq(strings.TrimSpace(errs), "\n") {
		if !strings.HasPrefix(line, "docker: ") || !strings.Contains(line, "restart Docker") {
			return false
		}
	}
	return true
}

// applyAgain is the apply after Docker's restart: it must change nothing and
// find Docker's network as planned.
func applyAgain(ctx context.Context, w io.Writer, h *lab.Host, cfg Config, dir string) error {
	again, err := h.Run(ctx, applyArgv(h, cfg, dir)...)
	fmt.Fprintf(w, "== %s: apply again (must change nothing; Docker's network as planned)\n", h.Name)
	indent(w, again)
	if err != nil {
		return err
	}
	if !strings.Contains(again, "nothing to change") {
		return fmt.Errorf("%s: the second apply changed something", h.Name)
	}
	return nil
}

// startDockers runs start (StartDocker, RestartDocker) on every host at once.
func startDockers(ctx context.Context, w io.Writer, l *lab.Lab, what string, start func(*lab.Host, context.Context) error) error {
	t0 := time.Now()
	hosts := l.Hosts()
	if err := l.EachHost(ctx, start); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n== Docker (dockerd %s) on every host: %s\n", dockerVersion(ctx, hosts[0]), what)
	fmt.Fprintf(w, "    %d dockerds in %v\n", len(hosts), time.Since(t0).Round(100*time.Millisecond))
	return nil
}

func dockerVersion(ctx context.Context, h *lab.Host) string {
	v, err := h.Docker(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(v)
}

// showDocker prints each host's daemon.json and what Docker made of it.
func showDocker(ctx context.Context, w io.Writer, l *lab.Lab) error {
	fmt.Fprintf(w, "\n== Docker's bridge network on each host (docker network inspect bridge)\n")
	for _, h := range l.Hosts() {
		dj, err := os.ReadFile(h.DaemonJSON())
		if err != nil {
			return err
		}
		out, err := h.Docker(ctx, "network", "inspect", "bridge", "--format",
			`{{range .IPAM.Config}}subnet {{.Subnet}} ip-range {{.IPRange}} gateway {{.Gateway}}{{end}} mtu {{index .Options "com.docker.network.driver.mtu"}}`)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s: daemon.json %s\n", h.Name, strings.Join(strings.Fields(string(dj)), " "))
		fmt.Fprintf(w, "  %s: Docker says %s\n", h.Name, strings.TrimSpace(out))
	}
	return nil
}

func applyHost(ctx context.Context, w io.Writer, h *lab.Host, cfg Config, dir string, t *topology.Topology) error {
	fmt.Fprintf(w, "\n== %s: plan\n", h.Name)
	plan, err := h.Run(ctx, cfg.Binary, "plan", cfg.Topology, "--host", h.Name)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(plan, "\n") {
		if !strings.HasPrefix(line, "  table=") && line != "" { // the flows follow; apply shows their count
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintf(w, "== %s: ovsmesh apply\n", h.Name)
	files := filepath.Join(dir, h.Name)
	if err := os.MkdirAll(files, 0o755); err != nil {
		return err
	}
	out, err := h.Run(ctx, applyArgv(h, cfg, dir)...)
	indent(w, summarize(out))
	if err != nil && !waitsForDocker(out) {
		return err
	}
	fmt.Fprintf(w, "== %s: Open vSwitch state\n", h.Name)
	ovs, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--format=table", "--columns=name,type,options,ofport",
		"find", "interface", "external_ids:"+topology.OwnerKey+"="+h.Name)
	if err != nil {
		return err
	}
	indent(w, ovs)
	flows, err := h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "dump-aggregate", t.Network.Bridge, fmt.Sprintf("cookie=%#x/-1", topology.FlowCookie))
	if err != nil {
		return err
	}
	indent(w, "flows with ovsmesh's cookie: "+strings.TrimSpace(flows))
	return nil
}

func pingAll(ctx context.Context, w io.Writer, l *lab.Lab, t *topology.Topology, elapsed time.Duration, also string) error {
	fmt.Fprintf(w, "\n== containers: docker run on every host; Docker addresses them from the host's fixed-cidr\n")
	var cts []*lab.Container
	for _, h := range t.Hosts {
		ct, err := l.Host(h.Name).RunContainer(ctx, "ct"+fmt.Sprint(h.Index))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s on %s: %s (gateway %s, mac %s)\n", ct.Name, h.Name, ct.Addr, ct.GW, ct.MAC)
		cts = append(cts, ct)
	}
	mtu := t.Network.MTU
	var failed []string
	check := func(ok bool, format string, args ...any) {
		mark := "ok  "
		if !ok {
			mark = "FAIL"
			failed = append(failed, fmt.Sprintf(format, args...))
		}
		fmt.Fprintf(w, "  %s %s\n", mark, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "\n== pings across the mesh\n")
	for _, a := range cts {
		for _, b := range cts {
			if a == b {
				continue
			}
			err := pingRetry(ctx, a, b.Addr.Addr(), 56, false)
			check(err == nil, "%s (%s) -> %s (%s on %s)", a.Name, a.Host.Name, b.Name, b.Addr.Addr(), b.Host.Name)
		}
	}
	a, b := cts[0], cts[len(cts)-1]
	err := pingRetry(ctx, a, b.Addr.Addr(), mtu-28, true)
	check(err == nil, "full-MTU ping: %d-byte packets with DF from %s to %s pass the %s tunnel", mtu, a.Name, b.Name, t.Network.Encap)
	err = a.Ping(ctx, b.Addr.Addr(), mtu-27, true)
	check(err != nil, "one byte more (%d) with DF is refused in the container, never silently dropped in the tunnel", mtu+1)
	if len(failed) > 0 {
		return fmt.Errorf("%d checks failed: %s", len(failed), strings.Join(failed, "; "))
	}
	fmt.Fprintf(w, "\nproved: %d hosts joined by %s tunnels (mode %s, MTU %d) in %s; every container reaches every other, full-size packets included, %s.\n",
		len(t.Hosts), t.Network.Encap, t.Network.Mode, mtu, elapsed.Round(time.Second), also)
	return nil
}

func pingRetry(ctx context.Context, c *lab.Container, dst netip.Addr, size int, df bool) error {
	var err error
	for range 3 {
		if err = c.Ping(ctx, dst, size, df); err == nil {
			return nil
		}
	}
	return err
}

// summarize keeps apply's output readable: the flow lines become one count.
func summarize(out string) string {
	var keep []string
	flows := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "openflow: ") {
			flows++
			continue
		}
		keep = append(keep, line)
	}
	if flows > 0 {
		keep = append([]string{fmt.Sprintf("openflow: %d flows added in one atomic bundle (ovsmesh plan lists them)", flows)}, keep...)
	}
	return strings.Join(keep, "\n")
}

func indent(w io.Writer, s string) {
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
}

func keep(l *lab.Lab, state string) error {
	if err := l.Keep(); err != nil {
		return err
	}
	return lab.WriteState(state, l.State())
}
