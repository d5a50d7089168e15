package hostcheck

import (
	"context"
	"errors"

	"github.com/ovsmesh/ovsmesh/dockerapi"
)

// ProbeDocker asks Docker's Engine API at host for its version and its network
// on bridge, and reads daemon.json. It only reads. Docker not answering is a
// finding (Unreachable), not an error.
func ProbeDocker(ctx context.Context, host, bridge, daemonJSON string) DockerFacts {
	f := DockerFacts{Host: host, Daemon: ReadDaemonJSON(daemonJSON)}
	c, err := dockerapi.New(host)
	if err != nil {
		f.Err = err.Error()
		return f
	}
	defer c.Close()
	if f.Version, err = c.Version(ctx); err == nil {
		f.Network, err = c.Network(ctx, bridge)
	}
	var u *dockerapi.UnreachableError
	switch {
	case errors.As(err, &u):
		f.Unreachable = err.Error()
	case err != nil:
		f.Err = err.Error()
	}
	return f
}
