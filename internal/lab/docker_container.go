package lab

import (
	"context"
	"fmt"
	"strings"
)

// RunContainer starts a real container named name with `docker run -d` on the
// host's dockerd, DockerImage and a `sleep` that exits on SIGTERM as its command, and the extra
// docker run arguments args (e.g. "--restart", "always", "--mac-address", M,
// "--network", N). It returns it as a Container whose NS is the container's
// own network namespace, attached under a lab name (`ip netns attach`), so
// that Run, Ping and Command work on it as on the stand-ins. Addr, GW and MAC
// are what Docker gave it on network ("bridge" when args name none).
func (h *Host) RunContainer(ctx context.Context, name string, args ...string) (*Container, error) {
	l := h.lab
	if !nameRE.MatchString(name) || name == "ul" || l.Host(name) != nil {
		return nil, fmt.Errorf("lab: bad container name %q", name)
	}
	network := "bridge"
	for i, a := range args {
		if a == "--network" && i+1 < len(args) {
			network = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--network="); ok {
			network = v
		}
	}
	argv := append([]string{"run", "-d", "--name", name}, args...)
	// A PID 1 without a handler ignores SIGTERM, and docker stop would wait
	// 10 s for every container: this one exits on it.
	argv = append(argv, DockerImage, "sh", "-c", "trap 'exit 0' TERM; sleep 100000000 & wait")
	if _, err := h.Docker(ctx, argv...); err != nil {
		return nil, fmt.Errorf("lab %s: container %s on %s: %w", l.ID, name, h.Name, err)
	}
	c := &Container{Name: name, NS: l.ID + "-" + name, Host: h, Docker: true, Network: network}
	l.mu.Lock()
	l.ctrs = append(l.ctrs, c)
	l.mu.Unlock()
	if err := c.Reattach(ctx); err != nil {
		return nil, err
	}
	l.logf("lab %s: docker container %s on %s: %s gw %s mac %s", l.ID, name, h.Name, c.Addr, c.GW, c.MAC)
	return c, nil
}

// Reattach reads a real container's address, gateway and MAC again and points
// its NS at its current network namespace: a container that Docker restarted
// (a restart policy, a Docker restart) has a new one.
func (c *Container) Reattach(ctx context.Context) error {
	if !c.Docker {
		return fmt.Errorf("container %s is not a Docker container", c.Name)
	}
	h := c.Host
	d, err := h.inspect(ctx, c.Name, c.Network)
	if err != nil {
		return fmt.Errorf("lab: container %s: %w", c.Name, err)
	}
	if !d.State.Running || d.State.Pid <= 0 {
		return fmt.Errorf("lab: container %s is not running", c.Name)
	}
	addr, gw, mac, err := parseInspect(d, c.Network)
	if err != nil {
		return fmt.Errorf("lab: container %s: %w", c.Name, err)
	}
	_, _ = run(ctx, nil, "ip", "netns", "delete", c.NS)
	if _, err := run(ctx, nil, "ip", "netns", "attach", c.NS, fmt.Sprint(d.State.Pid)); err != nil {
		return fmt.Errorf("lab: container %s: %w", c.Name, err)
	}
	c.Host.lab.mu.Lock()
	c.Addr, c.GW, c.MAC, c.ID = addr, gw, mac, d.ID
	c.Host.lab.mu.Unlock()
	return c.Host.lab.saveState()
}

// removeContainers removes every container of the dockerd at sock (docker rm
// -f): stopping dockerd alone would leave container processes behind.
func removeContainers(ctx context.Context, sock string) error {
	out, err := run(ctx, nil, dockerCmd(), "-H", "unix://"+sock, "ps", "-aq")
	if err != nil {
		return err
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return nil
	}
	_, err = run(ctx, nil, append([]string{dockerCmd(), "-H", "unix://" + sock, "rm", "-f"}, ids...)...)
	return err
}
