// Command ovsmesh joins Docker hosts into one container network built from Open
// vSwitch GRE or VXLAN tunnels, as described by one topology file. The commands
// live in internal/cli; main only wires the process to them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ovsmesh/ovsmesh/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
