package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// dirPrefix prefixes the base name of every lab directory in os.TempDir().
	dirPrefix = "ovsmesh-lab-"
	// underlayBridge is the Linux bridge in the underlay namespace.
	underlayBridge = "br-ul"
	// PhysBridge is the OVS bridge on each host that holds eth0 and the
	// host's underlay address.
	PhysBridge = "br-phy"
	// DockerBridge is the Linux bridge containers are attached to. The
	// product creates it; the lab only uses it.
	DockerBridge = "docker0"
	// UnderlayMTU is the MTU of every underlay link.
	UnderlayMTU = 1500
	// closeTimeout bounds Close, which has no context.
	closeTimeout = 2 * time.Minute
)

// Binaries returns the commands New needs.
func Binaries() []string {
	return []string{"ip", "ethtool", "ping", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-appctl"}
}

// schemaPaths returns where the vswitch schema is looked for, in order.
func schemaPaths() []string {
	return []string{"/usr/share/openvswitch/vswitch.ovsschema", "/usr/local/share/openvswitch/vswitch.ovsschema"}
}

var (
	nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.]{0,31}$`)
	idRE   = regexp.MustCompile(`^om[0-9a-f]{6}$`)
	// nsRE matches every namespace any lab creates; the first group is the
	// lab ID.
	nsRE = regexp.MustCompile(`^(om[0-9a-f]{6})-.+$`)
)

// HostSpec describes one host of a lab.
type HostSpec struct {
	// Name is the host's name, e.g. "docker1": letters, digits, '_' and '.',
	// at most 32 bytes. The host's namespace is "<lab ID>-<Name>".
	Name string
	// Underlay is the host's underlay address and prefix, put on br-phy.
	// Zero means 198.18.0.<i+1>/24 for the i-th host. IPv6 works too; all
	// hosts share one L2 segment, so their prefixes should be one subnet.
	Underlay netip.Prefix
}

// Option configures New.
type Option func(*config)

type config struct {
	logf func(format string, args ...any)
}

// WithLogf makes the lab log what it builds and tears down, e.g. with
// testing.T.Logf.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// Lab is a running lab. Its exported fields are read-only; methods are safe
// for concurrent use.
type Lab struct {
	// ID is unique among the labs on this machine, e.g. "om1a2b3c"; it
	// prefixes every namespace name.
	ID string
	// Dir holds the run directories of the hosts; Close removes it.
	Dir string
	// UnderlayNS is the namespace holding the underlay bridge.
	UnderlayNS string

	hosts   []*Host
	owner   Owner
	logf    func(format string, args ...any)
	mu      sync.Mutex
	ctrs    []*Container
	nveth   int // containers ever added, for host veth names
	closed  bool
	saveMu  sync.Mutex // serializes writes of the state file
	imageMu sync.Mutex // serializes building the Docker image tarball
}

// Owner identifies the process that created a lab by pid and start time
// (clock ticks since boot); Sweep leaves the lab alone while it runs. The
// zero Owner marks a lab kept up on purpose (Keep).
type Owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func (o Owner) alive() bool {
	if o.PID <= 0 {
		return false
	}
	st, err := startTime(o.PID)
	return err == nil && st == o.Start && (proc{PID: o.PID}).running()
}

// New builds a lab with the given hosts: the underlay namespace and bridge,
// and per host a namespace, its underlay veth, ovsdb-server, ovs-vswitchd and
// br-phy with the underlay address. It returns once every host can reach the
// next one over the underlay. If anything fails, New tears down what it built
// and returns the error.
func New(ctx context.Context, hosts []HostSpec, opts ...Option) (l *Lab, err error) {
	cfg := config{logf: func(string, ...any) {}}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkEnv(); err != nil {
		return nil, err
	}
	specs, err := normalize(hosts)
	if err != nil {
		return nil, err
	}
	id, dir, err := makeDir()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	l = &Lab{ID: id, Dir: dir, UnderlayNS: id + "-ul", logf: cfg.logf}
	l.owner.PID = os.Getpid()
	if l.owner.Start, err = startTime(l.owner.PID); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("lab: own start time: %w", err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("lab %s: %w", id, err)
			if cerr := l.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("tear down after failure: %w", cerr))
			}
			l = nil
		}
	}()
	for i, s := range specs {
		rundir := filepath.Join(dir, s.Name)
		// Unix socket paths have at most 107 bytes; leave room for
		// "/ovs-vswitchd.<pid>.ctl" and "/<bridge>.mgmt".
		if len(rundir) > 80 {
			return l, fmt.Errorf("run dir %s too long for unix sockets: shorten the host name or set TMPDIR=/tmp", rundir)
		}
		l.hosts = append(l.hosts, &Host{
			Name:           s.Name,
			NS:             id + "-" + s.Name,
			RunDir:         rundir,
			DBSock:         filepath.Join(rundir, "db.sock"),
			Underlay:       s.Underlay.Addr(),
			UnderlayPrefix: s.Underlay,
			lab:            l,
			ulPeer:         fmt.Sprintf("ul%d", i),
		})
	}
	if err := l.saveState(); err != nil {
		return l, err
	}
	if err := l.setupUnderlay(ctx); err != nil {
		return l, err
	}
	schema, err := schemaPath()
	if err != nil {
		return l, err
	}
	if _, err := run(ctx, nil, "ovsdb-tool", "create", l.emptyDB(), schema); err != nil {
		return l, err
	}
	errs := make([]error, len(l.hosts))
	var wg sync.WaitGroup
	for i, h := range l.hosts {
		wg.Go(func() { errs[i] = h.setup(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return l, err
	}
	if err := l.saveState(); err != nil {
		return l, err
	}
	if err := l.checkUnderlay(ctx); err != nil {
		return l, err
	}
	l.logf("lab %s: %d hosts up in %v (dir %s)", id, len(l.hosts), time.Since(start).Round(time.Millisecond), dir)
	return l, nil
}

// emptyDB is the path of an empty vswitch database that every host's
// database starts as a copy of.
func (l *Lab) emptyDB() string { return filepath.Join(l.Dir, "empty.db") }

// checkEnv checks what New needs from the machine and creates /dev/net/tun
// if it is missing.
func checkEnv() error {
	if os.Geteuid() != 0 {
		return errors.New("lab: must run as root")
	}
	var missing []string
	for _, b := range Binaries() {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: missing commands %s (apt-get install openvswitch-switch iproute2 iputils-ping ethtool)", strings.Join(missing, ", "))
	}
	if _, err := schemaPath(); err != nil {
		return err
	}
	return ensureTun()
}

func schemaPath() (string, error) {
	for _, p := range schemaPaths() {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("lab: vswitch schema not found in %s", strings.Join(schemaPaths(), ", "))
}

// ensureTun creates /dev/net/tun (char 10:200), which OVS's userspace
// datapath needs for its internal ports, if it does not exist.
func ensureTun() error {
	const tun = "/dev/net/tun"
	if _, err := os.Stat(tun); err == nil {
		return nil
	}
	if err := os.MkdirAll("/dev/net", 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := syscall.Mknod(tun, syscall.S_IFCHR|0o666, 10<<8|200); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("lab: mknod %s c 10 200: %w", tun, err)
	}
	return nil
}

// normalize validates host specs and fills in default underlay addresses.
func normalize(hosts []HostSpec) ([]HostSpec, error) {
	if len(hosts) == 0 {
		return nil, errors.New("lab: no hosts")
	}
	if len(hosts) > 250 {
		return nil, fmt.Errorf("lab: %d hosts, at most 250", len(hosts))
	}
	out := make([]HostSpec, len(hosts))
	names := map[string]bool{}
	addrs := map[netip.Addr]bool{}
	for i, h := range hosts {
		if !nameRE.MatchString(h.Name) || h.Name == "ul" {
			return nil, fmt.Errorf("lab: bad host name %q: want %s, not \"ul\"", h.Name, nameRE)
		}
		if names[h.Name] {
			return nil, fmt.Errorf("lab: duplicate host name %q", h.Name)
		}
		names[h.Name] = true
		if !h.Underlay.IsValid() {
			h.Underlay = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), 24)
		}
		if h.Underlay.Addr().Is4In6() || h.Underlay.Addr().Zone() != "" {
			return nil, fmt.Errorf("lab: host %s: bad underlay address %s", h.Name, h.Underlay)
		}
		if addrs[h.Underlay.Addr()] {
			return nil, fmt.Errorf("lab: host %s: duplicate underlay address %s", h.Name, h.Underlay.Addr())
		}
		addrs[h.Underlay.Addr()] = true
		out[i] = h
	}
	return out, nil
}

// makeDir picks a fresh lab ID and creates its directory. An ID is fresh if
// neither its directory nor any namespace of it exists.
func makeDir() (id, dir string, err error) {
	for range 20 {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", fmt.Errorf("lab: %w", err)
		}
		id = "om" + hex.EncodeToString(b[:])
		if nss, _ := labNamespaces(id); len(nss) > 0 {
			continue
		}
		dir = filepath.Join(os.TempDir(), dirPrefix+id)
		err = os.Mkdir(dir, 0o700)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("lab: %w", err)
		}
		return id, dir, nil
	}
	return "", "", errors.New("lab: no free lab ID")
}

func (l *Lab) setupUnderlay(ctx context.Context) error {
	ns := l.UnderlayNS
	for _, argv := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "link", "add", underlayBridge, "mtu", fmt.Sprint(UnderlayMTU), "type", "bridge"},
		{"ip", "-n", ns, "link", "set", underlayBridge, "up"},
	} {
		if _, err := run(ctx, nil, argv...); err != nil {
			return fmt.Errorf("underlay: %w", err)
		}
	}
	return nil
}

// checkUnderlay pings from every host to the next one over the underlay.
func (l *Lab) checkUnderlay(ctx context.Context) error {
	if len(l.hosts) < 2 {
		return nil
	}
	for i, h := range l.hosts {
		dst := l.hosts[(i+1)%len(l.hosts)]
		if _, err := h.Run(ctx, pingArgv(dst.Underlay, 0, false)...); err != nil {
			return fmt.Errorf("underlay check %s -> %s: %w", h.Name, dst.Name, err)
		}
	}
	return nil
}

// Keep marks the lab as kept up on purpose after its creating process
// exits, as `ovsmesh-lab up` does: Sweep then removes it only when forced.
// Close still tears it down.
func (l *Lab) Keep() error {
	l.mu.Lock()
	l.owner = Owner{}
	l.mu.Unlock()
	return l.saveState()
}

// Hosts returns the hosts in the order they were given to New.
func (l *Lab) Hosts() []*Host { return append([]*Host(nil), l.hosts...) }

// Host returns the host with the given name, or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Containers returns the containers added so far.
func (l *Lab) Containers() []*Container {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Container(nil), l.ctrs...)
}

// Close tears the lab down: it kills every daemon the lab started by its
// recorded pid (and any daemon whose pidfile is in the lab's run
// directories), kills any other process left in the lab's namespaces, deletes
// every namespace of the lab and removes its directory. It is idempotent and
// returns every error it met; a failed Close can be retried.
func (l *Lab) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	var known []proc
	for _, h := range l.hosts {
		h.mu.Lock()
		known = append(known, h.dockerd, h.vswitchd, h.ovsdb)
		h.mu.Unlock()
	}
	err := teardown(ctx, l.ID, l.Dir, known)
	if err != nil {
		return fmt.Errorf("lab %s: close: %w", l.ID, err)
	}
	if !l.closed {
		l.logf("lab %s: closed", l.ID)
	}
	l.closed = true
	return nil
}

// teardown removes lab id: it kills the known processes, the daemons whose
// pidfiles are in dir, and every other process in a namespace of the lab,
// then deletes the namespaces and dir.
func teardown(ctx context.Context, id, dir string, known []proc) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("refusing to tear down bad lab ID %q", id)
	}
	var errs []error
	// Docker first: its containers, then dockerd, then their cgroups.
	if err := stopDockers(ctx, id, dir); err != nil {
		errs = append(errs, err)
	}
	// Daemons: ovs-vswitchd before the ovsdb-server it talks to.
	ps := append([]proc(nil), known...)
	if dir != "" {
		for _, name := range []string{"ovs-vswitchd", "ovsdb-server"} {
			files, _ := filepath.Glob(filepath.Join(dir, "*", name+".pid"))
			for _, f := range files {
				if pid, err := readPidfile(f); err == nil {
					ps = append(ps, proc{PID: pid, Comm: name, Marker: f})
				}
			}
		}
	}
	for _, p := range ps {
		if err := p.kill(); err != nil {
			errs = append(errs, err)
		}
	}
	nss, err := labNamespaces(id)
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		left, err := netnsPIDs(ns)
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range left {
			if err := p.kill(); err != nil {
				errs = append(errs, fmt.Errorf("namespace %s: %w", ns, err))
			}
		}
	}
	for _, ns := range nss {
		if _, err := run(ctx, nil, "ip", "netns", "delete", ns); err != nil {
			if _, serr := os.Stat("/run/netns/" + ns); serr == nil {
				errs = append(errs, err)
			}
		}
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// labNamespaces lists the namespaces of lab id.
func labNamespaces(id string) ([]string, error) {
	all, err := allLabNamespaces()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range all {
		if strings.HasPrefix(ns, id+"-") {
			out = append(out, ns)
		}
	}
	return out, nil
}

// allLabNamespaces lists every namespace named like a lab namespace.
func allLabNamespaces() ([]string, error) {
	ents, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, e := range ents {
		if nsRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
