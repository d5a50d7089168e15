package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
)

// Container is a namespace attached to a host's docker0 the way Docker
// attaches a container. Its exported fields are read-only.
type Container struct {
	// Name is the container's name, unique in the lab.
	Name string
	// NS is the container's network namespace, "<lab ID>-<Name>".
	NS string
	// Host is the host whose docker0 the container is attached to.
	Host *Host
	// Addr is the address of eth0 inside the container.
	Addr netip.Prefix
	// GW is the default gateway, or the zero Addr for none.
	GW netip.Addr
	// MTU is the MTU of both ends of the veth.
	MTU int
	// HostVeth is the host end of the veth, a port of docker0 (stand-ins only).
	HostVeth string
	// Docker is set for a real container (RunContainer); ID, MAC and Network
	// are Docker's.
	Docker  bool
	ID      string
	MAC     string
	Network string
}

// AddContainer creates container name on h: a namespace whose eth0 has addr,
// the given MTU (0: the kernel's default) and a default route via gw (the
// host's docker0 address; the zero Addr for no route), and whose veth peer
// is a port of h's docker0. docker0 must exist (the product creates it).
func (h *Host) AddContainer(ctx context.Context, name string, addr netip.Prefix, gw netip.Addr, mtu int) (c *Container, err error) {
	l := h.lab
	if !nameRE.MatchString(name) || name == "ul" {
		return nil, fmt.Errorf("lab: bad container name %q: want %s, not \"ul\"", name, nameRE)
	}
	if l.Host(name) != nil {
		return nil, fmt.Errorf("lab: container name %q is a host name", name)
	}
	if !addr.IsValid() {
		return nil, fmt.Errorf("lab: container %s: no address", name)
	}
	if gw.IsValid() && gw.Is4() != addr.Addr().Is4() {
		return nil, fmt.Errorf("lab: container %s: gateway %s and address %s differ in family", name, gw, addr)
	}
	if mtu < 0 || mtu > 65535 {
		return nil, fmt.Errorf("lab: container %s: bad MTU %d", name, mtu)
	}
	if _, err := run(ctx, nil, "ip", "-n", h.NS, "link", "show", "dev", DockerBridge); err != nil {
		return nil, fmt.Errorf("lab: host %s has no %s yet (ovsmesh apply creates it): %w", h.Name, DockerBridge, err)
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("lab %s is closed", l.ID)
	}
	for _, o := range l.ctrs {
		if o.Name == name {
			l.mu.Unlock()
			return nil, fmt.Errorf("lab: container %q exists", name)
		}
	}
	c = &Container{Name: name, NS: l.ID + "-" + name, Host: h, Addr: addr, GW: gw, MTU: mtu}
	// Like Docker's veth<hex>: unique in the host namespace, at most 15
	// bytes. Container names are unique, and "vc-" never starts "veth".
	c.HostVeth = "veth" + name
	if len(c.HostVeth) > 15 {
		c.HostVeth = fmt.Sprintf("vc-%d", l.nveth)
	}
	l.nveth++
	l.ctrs = append(l.ctrs, c)
	l.mu.Unlock()

	defer func() {
		if err != nil {
			err = fmt.Errorf("lab %s: container %s on %s: %w", l.ID, name, h.Name, err)
			if _, derr := run(context.WithoutCancel(ctx), nil, "ip", "netns", "delete", c.NS); derr != nil {
				err = errors.Join(err, derr)
			}
			l.mu.Lock()
			for i, o := range l.ctrs {
				if o == c {
					l.ctrs = append(l.ctrs[:i], l.ctrs[i+1:]...)
					break
				}
			}
			l.mu.Unlock()
			c = nil
		}
	}()

	var mtuArgs []string
	if mtu > 0 {
		mtuArgs = []string{"mtu", strconv.Itoa(mtu)}
	}
	link := append([]string{"ip", "-n", h.NS, "link", "add", c.HostVeth}, mtuArgs...)
	link = append(link, "type", "veth", "peer", "name", "eth0")
	link = append(link, mtuArgs...)
	link = append(link, "netns", c.NS)
	ipAddr := []string{"ip", "-n", c.NS, "addr", "add", addr.String(), "dev", "eth0"}
	if addr.Addr().Is6() {
		ipAddr = append(ipAddr, "nodad")
	}
	steps := [][]string{
		{"ip", "netns", "add", c.NS},
		{"ip", "-n", c.NS, "link", "set", "lo", "up"},
		link,
		{"ip", "-n", h.NS, "link", "set", c.HostVeth, "master", DockerBridge, "up"},
		ipAddr,
		{"ip", "-n", c.NS, "link", "set", "eth0", "up"},
	}
	if gw.IsValid() {
		steps = append(steps, []string{"ip", "-n", c.NS, "route", "add", "default", "via", gw.String(), "dev", "eth0"})
	}
	for _, argv := range steps {
		if _, err := run(ctx, nil, argv...); err != nil {
			return c, err
		}
	}
	if err := l.saveState(); err != nil {
		return c, err
	}
	l.logf("lab %s: container %s on %s: %s gw %s mtu %d", l.ID, name, h.Name, addr, gw, mtu)
	return c, nil
}

// Run runs argv inside the container's namespace and returns its combined
// output. The error names the command and carries the output.
func (c *Container) Run(ctx context.Context, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("container %s: run: empty command", c.Name)
	}
	return run(ctx, nil, nsArgv(c.NS, argv)...)
}

// Command returns an unstarted command that runs argv inside the container's
// namespace, e.g. a server for a TCP test. The caller must wait for it; Close
// kills whatever is still running in the namespace.
func (c *Container) Command(ctx context.Context, argv ...string) *exec.Cmd {
	return command(ctx, nil, nsArgv(c.NS, argv)...)
}

// Ping sends one ICMP echo from the container to dst and waits up to 2s for
// the reply. size is the ICMP payload (0: ping's default, 56); with df the
// packet must not be fragmented (IPv4 DF bit; for IPv6, no local
// fragmentation), without df it may be.
func (c *Container) Ping(ctx context.Context, dst netip.Addr, size int, df bool) error {
	if _, err := c.Run(ctx, pingArgv(dst, size, df)...); err != nil {
		return fmt.Errorf("container %s: ping %s size %d df %v: %w", c.Name, dst, size, df, err)
	}
	return nil
}

func pingArgv(dst netip.Addr, size int, df bool) []string {
	argv := []string{"ping", "-n", "-c", "1", "-W", "2"}
	if dst.Is6() {
		argv = append(argv, "-6")
	}
	if size > 0 {
		argv = append(argv, "-s", strconv.Itoa(size))
	}
	if df {
		argv = append(argv, "-M", "do")
	} else {
		argv = append(argv, "-M", "dont")
	}
	return append(argv, dst.String())
}
