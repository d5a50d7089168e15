package lab

import (
	"archive/tar"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DockerImage is the image every lab dockerd has: Debian's busybox-static and
// its applet links, imported from a tarball (no registry is needed). It has no
// command of its own: RunContainer gives one.
const DockerImage = "ovsmesh-lab/busybox:1"

// busyboxPath is where Debian's busybox-static installs its binary.
const busyboxPath = "/bin/busybox"

// dockerCLI is Debian's docker command line, of dockerd's own version (docker.io):
// a newer docker found first in PATH refuses some flags against the 20.10 API
// ("specify mac-address per network" requires API 1.44).
const dockerCLI = "/usr/bin/docker"

// dockerCmd returns the docker command line to run.
func dockerCmd() string {
	if _, err := os.Stat(dockerCLI); err == nil {
		return dockerCLI
	}
	return "docker"
}

// dockerStartTimeout bounds how long StartDocker waits for the API.
const dockerStartTimeout = 60 * time.Second

// DockerBinaries returns the commands StartDocker needs besides Binaries().
func DockerBinaries() []string {
	return []string{"dockerd", "containerd", "runc", "docker", "nsenter", "unshare", busyboxPath}
}

// DockerDir is the directory of the host's dockerd: data root, exec root,
// pidfile, socket and log.
func (h *Host) DockerDir() string { return filepath.Join(h.RunDir, "docker") }

// DockerHost is the address of the host's Docker API, as DOCKER_HOST takes it.
func (h *Host) DockerHost() string { return "unix://" + filepath.Join(h.DockerDir(), "docker.sock") }

// DaemonJSON is the daemon.json the host's dockerd reads: pass it to ovsmesh's
// --daemon-json so that Docker reads what ovsmesh writes.
func (h *Host) DaemonJSON() string { return filepath.Join(h.RunDir, "daemon.json") }

// dockerCgroup is the cgroup parent of the host's containers.
func (h *Host) dockerCgroup() string { return "ovsmesh-" + h.NS }

// StartDocker starts a real dockerd in the host's network namespace, with a
// private mount namespace and a fresh sysfs (`ip netns exec` would remount /sys
// and lose the cgroup mounts, and dockerd stops with "Devices cgroup isn't
// mounted"). It reads DaemonJSON (created as {} when missing), keeps its state
// in DockerDir (kept across restarts, removed with the lab), and starts its own
// containerd. StartDocker returns once the API answers and DockerImage exists.
func (h *Host) StartDocker(ctx context.Context) error {
	h.dockerMu.Lock()
	defer h.dockerMu.Unlock()
	if old := h.dockerProc(); old.running() {
		return fmt.Errorf("host %s: dockerd already running (%s)", h.Name, old)
	}
	start := time.Now()
	d := h.DockerDir()
	for _, sub := range []string{"cg", "data", "x"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
	}
	if _, err := os.Stat(h.DaemonJSON()); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(h.DaemonJSON(), []byte("{}\n"), 0o644); err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
	}
	pidfile := filepath.Join(d, "docker.pid")
	_ = os.Remove(pidfile)
	logf, err := os.OpenFile(filepath.Join(d, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	defer logf.Close()
	cg := filepath.Join(d, "cg")
	script := fmt.Sprintf(`mount --rbind /sys/fs/cgroup %[1]s && mount -t sysfs sysfs /sys && mount --rbind %[1]s /sys/fs/cgroup && umount -l %[1]s && exec "$@"`, cg)
	cmd := exec.Command("nsenter", "--net=/run/netns/"+h.NS, "--", "unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", script, "sh", "dockerd", "--config-file", h.DaemonJSON(),
		"--data-root", filepath.Join(d, "data"), "--exec-root", filepath.Join(d, "x"), "--pidfile", pidfile,
		"-H", h.DockerHost(), "--cgroup-parent", h.dockerCgroup())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("host %s: start dockerd: %w", h.Name, err)
	}
	// exec keeps the pid: the process started is dockerd itself.
	p := proc{PID: cmd.Process.Pid, Comm: "dockerd", Marker: pidfile}
	h.mu.Lock()
	h.dockerd = p
	h.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := h.waitDocker(ctx, exited); err != nil {
		_ = p.kill()
		return fmt.Errorf("host %s: dockerd: %w (log: %s)", h.Name, err, filepath.Join(d, "dockerd.log"))
	}
	if err := h.lab.saveState(); err != nil {
		return err
	}
	if err := h.ensureImage(ctx); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	h.lab.logf("lab %s: host %s: dockerd %s up in %v", h.lab.ID, h.Name, p, time.Since(start).Round(time.Millisecond))
	return nil
}

// waitDocker waits until the host's Docker API answers.
func (h *Host) waitDocker(ctx context.Context, exited <-chan error) error {
	deadline := time.Now().Add(dockerStartTimeout)
	for {
		_, err := run(ctx, nil, dockerCmd(), "-H", h.DockerHost(), "version", "--format", "{{.Server.Version}}")
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("exited: %v", werr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("API not answering after %v: %w", dockerStartTimeout, err)
		}
	}
}

// ensureImage imports DockerImage unless the daemon has it.
func (h *Host) ensureImage(ctx context.Context) error {
	if _, err := h.Docker(ctx, "image", "inspect", "--format", "{{.Id}}", DockerImage); err == nil {
		return nil
	}
	tarball, err := h.lab.busyboxTar()
	if err != nil {
		return err
	}
	_, err = h.Docker(ctx, "import", tarball, DockerImage)
	return err
}

// StopDocker stops the host's dockerd (SIGTERM, as systemd does): without
// live-restore, Docker stops its containers first; those with a restart policy
// come back with the next StartDocker. Stopping a dockerd that is not running
// is not an error.
func (h *Host) StopDocker(ctx context.Context) error {
	h.dockerMu.Lock()
	defer h.dockerMu.Unlock()
	if err := h.dockerProc().killWithin(30 * time.Second); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	return nil
}

// dockerProc returns the host's dockerd as last started.
func (h *Host) dockerProc() proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dockerd
}

// EachHost runs f on every host of the lab at once and joins their errors, e.g.
// (*Host).StartDocker.
func (l *Lab) EachHost(ctx context.Context, f func(*Host, context.Context) error) error {
	errs := make([]error, len(l.hosts))
	var wg sync.WaitGroup
	for i, h := range l.hosts {
		wg.Go(func() { errs[i] = f(h, ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RestartDocker stops and starts the host's dockerd.
func (h *Host) RestartDocker(ctx context.Context) error {
	if err := h.StopDocker(ctx); err != nil {
		return err
	}
	return h.StartDocker(ctx)
}

// Docker runs the docker command line against the host's dockerd and returns its
// combined output.
func (h *Host) Docker(ctx context.Context, args ...string) (string, error) {
	return run(ctx, nil, append([]string{dockerCmd(), "-H", h.DockerHost()}, args...)...)
}

// busyboxTar returns the path of the image tarball, building it on first use:
// busybox-static as /bin/busybox and one link per applet.
func (l *Lab) busyboxTar() (string, error) {
	l.imageMu.Lock()
	defer l.imageMu.Unlock()
	path := filepath.Join(l.Dir, "busybox.tar")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := checkStatic(busyboxPath); err != nil {
		return "", err
	}
	out, err := run(context.Background(), nil, busyboxPath, "--list")
	if err != nil {
		return "", err
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return "", err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
	}
	if _, err := tw.Write(bin); err != nil {
		return "", err
	}
	for applet := range strings.FieldsSeq(out) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(path+".tmp", path)
}

// checkStatic fails unless path is a statically linked ELF binary: the image
// has no C library.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w (install busybox-static)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install busybox-static", path)
		}
	}
	return nil
}

// dockerInspect is what RunContainer reads of `docker inspect`.
type dockerInspect struct {
	ID    string `json:"Id"`
	State struct {
		Pid     int  `json:"Pid"`
		Running bool `json:"Running"`
	} `json:"State"`
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress   string `json:"IPAddress"`
			IPPrefixLen int    `json:"IPPrefixLen"`
			Gateway     string `json:"Gateway"`
			MacAddress  string `json:"MacAddress"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

// inspect reads a container's pid and its address on network (e.g. "bridge").
func (h *Host) inspect(ctx context.Context, name, network string) (dockerInspect, error) {
	out, err := h.Docker(ctx, "inspect", "--type", "container", name)
	if err != nil {
		return dockerInspect{}, err
	}
	var got []dockerInspect
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		return dockerInspect{}, fmt.Errorf("docker inspect %s: %d results, %v", name, len(got), err)
	}
	if _, ok := got[0].NetworkSettings.Networks[network]; !ok {
		return got[0], fmt.Errorf("container %s is not on network %q", name, network)
	}
	return got[0], nil
}

// parseInspect returns the address, gateway and MAC of a container on network.
func parseInspect(d dockerInspect, network string) (addr netip.Prefix, gw netip.Addr, mac string, err error) {
	n := d.NetworkSettings.Networks[network]
	a, err := netip.ParseAddr(n.IPAddress)
	if err != nil {
		return addr, gw, "", fmt.Errorf("container address %q: %w", n.IPAddress, err)
	}
	if n.Gateway != "" {
		if gw, err = netip.ParseAddr(n.Gateway); err != nil {
			return addr, gw, "", fmt.Errorf("container gateway %q: %w", n.Gateway, err)
		}
	}
	return netip.PrefixFrom(a, n.IPPrefixLen), gw, n.MacAddress, nil
}

// stopDockers stops the dockerds of lab id whose directories are in dir: it
// removes their containers, stops dockerd by the pid in its pidfile, and
// removes the containers' cgroup parent in every cgroup hierarchy.
func stopDockers(ctx context.Context, id, dir string) error {
	var errs []error
	if dir != "" {
		socks, _ := filepath.Glob(filepath.Join(dir, "*", "docker", "docker.sock"))
		for _, sock := range socks {
			pidfile := filepath.Join(filepath.Dir(sock), "docker.pid")
			pid, err := readPidfile(pidfile)
			if err != nil {
				continue // not running
			}
			p := proc{PID: pid, Comm: "dockerd", Marker: pidfile}
			if !p.running() {
				continue
			}
			if err := removeContainers(ctx, sock); err != nil {
				errs = append(errs, err)
			}
			if err := p.killWithin(30 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Cgroup parents are "ovsmesh-<lab ID>-<host>" (see dockerCgroup).
	parents, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "ovsmesh-"+id+"-*"))
	more, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "ovsmesh-"+id+"-*"))
	for _, p := range append(parents, more...) {
		if err := removeCgroup(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes a cgroup directory and the empty cgroups below it
// (cgroupfs removes a cgroup with rmdir, deepest first).
func removeCgroup(path string) error {
	ents, err := os.ReadDir(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", path, err)
	}
	return nil
}
