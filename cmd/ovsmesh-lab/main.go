// Command ovsmesh-lab builds and removes ovsmesh test labs (see package
// internal/lab) by hand, for demos and debugging:
//
//	ovsmesh-lab up --hosts docker1,docker2,docker3 --state lab.json
//	ovsmesh-lab down --state lab.json
//	ovsmesh-lab sweep [--force]
//	ovsmesh-lab demo --topology examples/lab.yaml --ovsmesh bin/ovsmesh [--keep --state FILE]
//
// up builds a lab, writes its state (namespaces, run directories, database
// addresses) to the state file and to stdout, and exits leaving the lab up.
// down tears down the lab in the state file. sweep removes the leftovers of
// labs whose creator died without tearing them down (with --force, every
// lab).
//
// It is a developer tool, not part of the product.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/demo"
	"github.com/ovsmesh/ovsmesh/internal/lab"
)

const usage = `usage:
  ovsmesh-lab up --hosts NAME[=ADDR/LEN],... --state FILE
  ovsmesh-lab down --state FILE
  ovsmesh-lab sweep [--force]
  ovsmesh-lab demo --topology FILE --ovsmesh BINARY [--keep --state FILE | --fleet]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ovsmesh-lab:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	state := fs.String("state", "", "state file")
	hosts := fs.String("hosts", "docker1,docker2", "hosts, comma-separated, each NAME or NAME=ADDR/LEN (underlay)")
	force := fs.Bool("force", false, "sweep: also remove labs in use and labs left up by up")
	topo := fs.String("topology", "examples/lab.yaml", "demo: topology file")
	bin := fs.String("ovsmesh", "bin/ovsmesh", "demo: the ovsmesh binary")
	keepUp := fs.Bool("keep", false, "demo: leave the lab up (tear down with down --state FILE)")
	fleetMode := fs.Bool("fleet", false, "demo: fleet mode (etcd in the lab, apply --etcd on every host)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch args[0] {
	case "up":
		return up(ctx, *state, *hosts)
	case "down":
		return down(*state)
	case "demo":
		if *keepUp && *state == "" {
			return errors.New("demo --keep needs --state FILE")
		}
		if *keepUp && *fleetMode {
			return errors.New("demo --fleet cannot --keep (its etcd is not left running)")
		}
		return demo.Run(ctx, demo.Config{Topology: *topo, Binary: *bin, Keep: *keepUp, StateFile: *state, Fleet: *fleetMode}, os.Stdout)
	case "sweep":
		removed, err := lab.Sweep(ctx, *force)
		for _, id := range removed {
			fmt.Println("removed", id)
		}
		return err
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", args[0])
}

func parseHosts(s string) ([]lab.HostSpec, error) {
	var specs []lab.HostSpec
	for f := range strings.SplitSeq(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(f), "=")
		spec := lab.HostSpec{Name: name}
		if ok {
			p, err := netip.ParsePrefix(addr)
			if err != nil {
				return nil, fmt.Errorf("host %s: %w", name, err)
			}
			spec.Underlay = p
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func up(ctx context.Context, state, hosts string) error {
	if state == "" {
		return errors.New("up: --state FILE is required (down needs it)")
	}
	if _, err := os.Stat(state); err == nil {
		return fmt.Errorf("up: state file %s exists; run down first", state)
	}
	specs, err := parseHosts(hosts)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	start := time.Now()
	l, err := lab.New(ctx, specs, lab.WithLogf(func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }))
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if err := l.Keep(); err != nil {
		return errors.Join(fmt.Errorf("up: %w", err), l.Close())
	}
	if err := lab.WriteState(state, l.State()); err != nil {
		return errors.Join(fmt.Errorf("up: %w", err), l.Close())
	}
	b, err := json.MarshalIndent(l.State(), "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	fmt.Fprintf(os.Stderr, "lab %s up in %v; tear down with: ovsmesh-lab down --state %s\n", l.ID, time.Since(start).Round(time.Millisecond), state)
	return nil
}

func down(state string) error {
	if state == "" {
		return errors.New("down: --state FILE is required")
	}
	s, err := lab.ReadState(state)
	if err != nil {
		return fmt.Errorf("down: %w", err)
	}
	l, err := lab.Restore(s)
	if err != nil {
		return fmt.Errorf("down: %w", err)
	}
	if err := l.Close(); err != nil {
		return fmt.Errorf("down: %w", err)
	}
	if err := os.Remove(state); err != nil {
		return fmt.Errorf("down: %w", err)
	}
	fmt.Fprintf(os.Stderr, "lab %s down\n", s.ID)
	return nil
}
