package dockerapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/ovsmesh/ovsmesh/topology"
)

// DefaultHost is where Docker serves its API unless told otherwise.
const DefaultHost = "unix:///var/run/docker.sock"

// HostFromEnv is Docker's own convention for its API's address: $DOCKER_HOST,
// else DefaultHost.
func HostFromEnv() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return DefaultHost
}

// Timeout bounds each call (all its requests). A running dockerd answers in
// milliseconds; one that does not answer within it counts as not reachable:
// under systemd's socket activation (Debian's docker.socket) the socket
// accepts connections while Docker itself waits for ovsmesh to be ready.
const Timeout = 5 * time.Second

// defaultNetwork is the name of Docker's default bridge network.
const defaultNetwork = "bridge"

// Client reads Docker's networks over its Engine API. It is safe for concurrent
// use. The API version is negotiated with the daemon on the first request
// (Docker 20.10 serves 1.41; the client needs at least 1.40).
type Client struct {
	host    string
	api     *client.Client
	timeout time.Duration // Timeout; tests shorten it
}

// New returns a client of the Engine API at host (unix:///PATH or
// tcp://HOST:PORT). It connects to nothing yet.
func New(host string) (*Client, error) {
	if !strings.HasPrefix(host, "unix://") && !strings.HasPrefix(host, "tcp://") {
		return nil, fmt.Errorf("docker host %q: want unix:///PATH or tcp://HOST:PORT", host)
	}
	api, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	return &Client{host: host, api: api, timeout: Timeout}, nil
}

// Host is the address the client talks to.
func (c *Client) Host() string { return c.host }

// Close releases the client's idle connections.
func (c *Client) Close() error { return c.api.Close() }

// UnreachableError says that Docker did not answer at all: no socket, nobody
// listening, or no answer within Timeout. It is not a difference from the plan
// (Docker may start after ovsmesh at boot).
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("Docker not reachable at %s: %v", e.Host, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// Unavailable reports true: the convention of ovsmesh's adapters for "could
// not tell", as opposed to a finding.
func (e *UnreachableError) Unavailable() bool { return true }

// NoNetworkError says that Docker runs but none of its networks uses the bridge
// (e.g. daemon.json names another bridge, or "bridge": "none").
type NoNetworkError struct {
	Bridge string
	// Default is the bridge of Docker's default network, "" when it has none.
	Default string
}

func (e *NoNetworkError) Error() string {
	if e.Default == "" {
		return fmt.Sprintf("Docker has no network on bridge %s, and no default network %q", e.Bridge, defaultNetwork)
	}
	return fmt.Sprintf("Docker has no network on bridge %s (its default network %q uses %s)", e.Bridge, defaultNetwork, e.Default)
}

// Network returns what Docker reports of its network whose Linux bridge is
// bridge: the default network "bridge" when that uses it (docker0 with Docker's
// defaults), else the first bridge network that does. It reads only.
// Errors: *UnreachableError when Docker does not answer, *NoNetworkError when
// no network uses the bridge.
func (c *Client) Network(ctx context.Context, bridge string) (topology.DockerNetwork, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := c.api.NetworkInspect(tctx, defaultNetwork, client.NetworkInspectOptions{})
	notFound := cerrdefs.IsNotFound(err)
	if err != nil && !notFound {
		return topology.DockerNetwork{}, c.fail(ctx, fmt.Sprintf("inspect network %q", defaultNetwork), err)
	}
	if err == nil && bridgeName(res.Network.Network) == bridge {
		return convert(res.Network.Network), nil
	}
	list, err := c.api.NetworkList(tctx, client.NetworkListOptions{})
	if err != nil {
		return topology.DockerNetwork{}, c.fail(ctx, "list networks", err)
	}
	for _, n := range list.Items {
		if n.Driver == "bridge" && bridgeName(n.Network) == bridge {
			return convert(n.Network), nil
		}
	}
	e := &NoNetworkError{Bridge: bridge}
	if !notFound {
		e.Default = bridgeName(res.Network.Network)
	}
	return topology.DockerNetwork{}, e
}

// Version returns Docker's version and the API version it serves, e.g.
// "20.10.24+dfsg1 (API 1.41)".
func (c *Client) Version(ctx context.Context) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := c.api.ServerVersion(tctx, client.ServerVersionOptions{})
	if err != nil {
		return "", c.fail(ctx, "read the version", err)
	}
	return fmt.Sprintf("%s (API %s)", v.Version, v.APIVersion), nil
}

// fail classifies err: no connection, or no answer within Timeout while the
// caller still waits, is an *UnreachableError; anything else is wrapped with
// what was attempted.
func (c *Client) fail(ctx context.Context, what string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return &UnreachableError{Host: c.host, Err: fmt.Errorf("no answer within %s", c.timeout)}
	case client.IsErrConnectionFailed(err):
		// The socket-level cause says it without repeating the address.
		// moby's client keeps it for a missing socket, not for a refused
		// connection.
		var op *net.OpError
		if errors.As(err, &op) {
			err = op
		} else {
			err = errors.New("no connection (is Docker running?)")
		}
		return &UnreachableError{Host: c.host, Err: err}
	}
	return fmt.Errorf("docker at %s: %s: %w", c.host, what, err)
}
