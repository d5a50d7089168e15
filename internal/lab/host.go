package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Host is one host of a lab. Its exported fields are read-only.
type Host struct {
	// Name is the host's name from its HostSpec.
	Name string
	// NS is the host's network namespace.
	NS string
	// RunDir is the host's OVS_RUNDIR: database, sockets, pidfiles, logs.
	RunDir string
	// DBSock is the path of ovsdb-server's unix socket.
	DBSock string
	// Underlay is the host's underlay address (on br-phy).
	Underlay netip.Addr
	// UnderlayPrefix is Underlay with its prefix length.
	UnderlayPrefix netip.Prefix

	lab    *Lab
	ulPeer string // the peer of eth0 on the underlay bridge

	mu       sync.Mutex // guards the daemons
	ovsdb    proc
	vswitchd proc
	dockerd  proc       // StartDocker
	dockerMu sync.Mutex // serializes StartDocker and StopDocker
}

// Env returns the environment variables that point OVS tools and the product
// at this host's daemons: OVS_RUNDIR (and OVS_DBDIR, OVS_LOGDIR) set to
// RunDir. With them, `ovs-vsctl` finds the database, `ovs-appctl -t
// ovs-vswitchd` the daemon and `ovs-ofctl br0` the bridge. Append them to
// os.Environ() when building an exec.Cmd.
func (h *Host) Env() []string {
	return []string{"OVS_RUNDIR=" + h.RunDir, "OVS_DBDIR=" + h.RunDir, "OVS_LOGDIR=" + h.RunDir}
}

// DB returns the host's OVSDB address, "unix:<RunDir>/db.sock".
func (h *Host) DB() string { return "unix:" + h.DBSock }

// Run runs argv inside the host's namespace with Env() added to the
// environment and returns its combined output. The error names the command and
// carries the output.
func (h *Host) Run(ctx context.Context, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("host %s: run: empty command", h.Name)
	}
	return run(ctx, h.Env(), nsArgv(h.NS, argv)...)
}

// Command returns an unstarted command that runs argv inside the host's
// namespace with Env(), for long-running processes such as the product's
// daemon. The caller must wait for it; Close kills whatever is still running
// in the namespace.
func (h *Host) Command(ctx context.Context, argv ...string) *exec.Cmd {
	return command(ctx, h.Env(), nsArgv(h.NS, argv)...)
}

// vsctl runs ovs-vsctl against this host's database.
func (h *Host) vsctl(ctx context.Context, args ...string) (string, error) {
	return h.Run(ctx, append([]string{"ovs-vsctl", "--timeout=30", "--db=" + h.DB()}, args...)...)
}

func (h *Host) pidfile(daemon string) string { return filepath.Join(h.RunDir, daemon+".pid") }

// setup builds the host: namespace, underlay veth, database, daemons, br-phy.
func (h *Host) setup(ctx context.Context) error {
	start := time.Now()
	if err := h.setupNetwork(ctx); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if err := h.setupOVS(ctx); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	h.lab.logf("lab %s: host %s up in %v: ns %s, underlay %s, db %s", h.lab.ID, h.Name, time.Since(start).Round(time.Millisecond), h.NS, h.UnderlayPrefix, h.DB())
	return nil
}

func (h *Host) setupNetwork(ctx context.Context) error {
	ns, ul := h.NS, h.lab.UnderlayNS
	mtu := fmt.Sprint(UnderlayMTU)
	for _, argv := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		// Created inside the lab's namespaces: the names never exist in the
		// root namespace, so labs cannot clash.
		{"ip", "-n", ns, "link", "add", "eth0", "mtu", mtu, "type", "veth", "peer", "name", h.ulPeer, "mtu", mtu, "netns", ul},
		{"ip", "-n", ul, "link", "set", h.ulPeer, "master", underlayBridge, "up"},
		// eth0 is a port of a netdev bridge: without this, TCP through it
		// carries bad checksums.
		nsArgv(ns, []string{"ethtool", "-K", "eth0", "tx", "off"}),
		// The kernel would also answer ARP for br-phy's address from eth0's
		// MAC, and ovs-vswitchd's tunnel neighbour cache keeps whichever reply
		// comes last: with many tunnels, some went to the wrong MAC.
		nsArgv(ns, []string{"sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1"}),
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
	} {
		if _, err := run(ctx, nil, argv...); err != nil {
			return err
		}
	}
	return nil
}

func (h *Host) setupOVS(ctx context.Context) error {
	if err := os.Mkdir(h.RunDir, 0o755); err != nil {
		return err
	}
	// A copy of the lab's empty database: ovsdb-tool create takes up to a
	// second on a loaded machine (fsync), and its output is always the same.
	db, err := os.ReadFile(h.lab.emptyDB())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.RunDir, "conf.db"), db, 0o644); err != nil {
		return err
	}
	if err := h.StartOVSDB(ctx); err != nil {
		return err
	}
	if _, err := h.Run(ctx, "ovs-vsctl", "--timeout=30", "--db="+h.DB(), "--no-wait", "init"); err != nil {
		return err
	}
	if err := h.StartVSwitchd(ctx); err != nil {
		return err
	}
	// Without --no-wait, ovs-vsctl returns once ovs-vswitchd has applied
	// the change, i.e. created the br-phy tap.
	if _, err := h.vsctl(ctx, "add-br", PhysBridge, "--", "set", "Bridge", PhysBridge, "datapath_type=netdev",
		"--", "add-port", PhysBridge, "eth0"); err != nil {
		return err
	}
	addr := []string{"ip", "-n", h.NS, "addr", "add", h.UnderlayPrefix.String(), "dev", PhysBridge}
	if h.Underlay.Is6() {
		addr = append(addr, "nodad")
	}
	for _, argv := range [][]string{addr, {"ip", "-n", h.NS, "link", "set", PhysBridge, "up"}} {
		if _, err := run(ctx, nil, argv...); err != nil {
			return err
		}
	}
	return h.waitRoute(ctx)
}

// waitRoute waits until ovs-vswitchd's route table has learned the
// underlay route from the namespace: tunnel ports depend on it.
func (h *Host) waitRoute(ctx context.Context) error {
	want := " dev " + PhysBridge + " "
	prefix := h.UnderlayPrefix.Masked().String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := h.Run(ctx, "ovs-appctl", "-t", "ovs-vswitchd", "ovs/route/show")
		if err == nil {
			for line := range strings.SplitSeq(out, "\n") {
				if strings.Contains(line, prefix+want) {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ovs-vswitchd did not learn route %s dev %s in 10s: %v: %s", prefix, PhysBridge, err, out)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startDaemon starts an OVS daemon with --detach inside the host's namespace
// and returns it as identified by its pidfile.
func (h *Host) startDaemon(ctx context.Context, name string, args ...string) (proc, error) {
	pidfile := h.pidfile(name)
	argv := append([]string{name}, args...)
	// The default unixctl socket, OVS_RUNDIR/<name>.<pid>.ctl, is what
	// `ovs-appctl -t <name>` looks for.
	argv = append(argv, "--pidfile="+pidfile, "--log-file="+filepath.Join(h.RunDir, name+".log"), "--detach")
	if _, err := h.Run(ctx, argv...); err != nil {
		return proc{}, err
	}
	pid, err := readPidfile(pidfile)
	if err != nil {
		return proc{}, fmt.Errorf("%s started but: %w", name, err)
	}
	p := proc{PID: pid, Comm: name, Marker: pidfile}
	if !p.running() {
		return proc{}, fmt.Errorf("%s (pid %d from %s) is not running; see %s", name, pid, pidfile, filepath.Join(h.RunDir, name+".log"))
	}
	return p, nil
}

// start starts a daemon unless *p is running and records it in *p.
func (h *Host) start(ctx context.Context, p *proc, name string, args ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.running() {
		return fmt.Errorf("host %s: %s already running", h.Name, *p)
	}
	np, err := h.startDaemon(ctx, name, args...)
	if err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	*p = np
	return nil
}

// StartOVSDB starts the host's ovsdb-server on its existing database. It is
// an error if it runs already.
func (h *Host) StartOVSDB(ctx context.Context) error {
	if err := h.start(ctx, &h.ovsdb, "ovsdb-server", filepath.Join(h.RunDir, "conf.db"), "--remote=punix:"+h.DBSock); err != nil {
		return err
	}
	return h.lab.saveState()
}

// StopOVSDB kills the host's ovsdb-server (SIGTERM, then SIGKILL) and waits
// until it is gone. ovs-vswitchd keeps running and reconnects, with a backoff
// of up to 8s, once StartOVSDB has run.
//
// Unlike the kernel datapath, the userspace datapath stops forwarding while
// ovsdb-server is down: ovs-vswitchd loses its database lock and then skips
// the main-loop work that polls the datapath's ports (bridge_run in
// vswitchd/bridge.c). Forwarding resumes about 2s after StartOVSDB.
func (h *Host) StopOVSDB(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.ovsdb.kill(); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	return nil
}

// StartVSwitchd starts the host's ovs-vswitchd. It is an error if it runs
// already.
func (h *Host) StartVSwitchd(ctx context.Context) error {
	if err := h.start(ctx, &h.vswitchd, "ovs-vswitchd", h.DB()); err != nil {
		return err
	}
	return h.lab.saveState()
}

// StopVSwitchd kills the host's ovs-vswitchd (SIGTERM, then SIGKILL) and
// waits until it is gone. The taps of the userspace datapath's internal ports
// (br-phy, br0) stay, with their addresses, but carry no traffic.
func (h *Host) StopVSwitchd(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.vswitchd.kill(); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	return nil
}

// RestartVSwitchd stops and starts ovs-vswitchd and waits until it has
// applied the database (ovs-vswitchd --detach returns only then) and
// relearned the underlay route. It fails if ovsdb-server is stopped.
func (h *Host) RestartVSwitchd(ctx context.Context) error {
	if err := h.StopVSwitchd(ctx); err != nil {
		return err
	}
	if err := h.StartVSwitchd(ctx); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "ip", "-n", h.NS, "link", "set", PhysBridge, "up"); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if err := h.waitRoute(ctx); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	return nil
}

// Pids returns the pids of the host's ovsdb-server and ovs-vswitchd as last
// started (0 if never started).
func (h *Host) Pids() (ovsdb, vswitchd int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ovsdb.PID, h.vswitchd.PID
}

// UlPeer is the name, in the underlay namespace, of the switch port facing the
// host's eth0 (set its MTU there to make a small path toward this host).
func (h *Host) UlPeer() string { return h.ulPeer }
