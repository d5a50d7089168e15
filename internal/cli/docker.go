package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ovsmesh/ovsmesh/dockerapi"
)

// addDockerHost adds --docker-host: where Docker's Engine API is read.
func addDockerHost(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "docker-host", "", "Docker's API address, unix:///PATH or tcp://HOST:PORT, to read what Docker reports of its bridge network "+
		"(default: $DOCKER_HOST, else "+dockerapi.DefaultHost+"); ovsmesh only reads it")
}

// dockerHost is --docker-host, else Docker's own convention.
func dockerHost(flag string) string {
	if flag != "" {
		return flag
	}
	return dockerapi.HostFromEnv()
}

// checkDockerHost rejects an address Docker's API client cannot use.
func checkDockerHost(flag string) error {
	c, err := dockerapi.New(dockerHost(flag))
	if err != nil {
		from := "--docker-host"
		if flag == "" {
			from = "$DOCKER_HOST"
		}
		return usageError{fmt.Errorf("%s: %w", from, err)}
	}
	return c.Close()
}
