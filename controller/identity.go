package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovsmesh/ovsmesh/topology"
)

// StepIdentity is the step that keeps the per-container identity table.
const StepIdentity = "identity"

// Identity is what the identity step works with: Docker's list of containers,
// the kernel's veths and the table that checks what each container sends
// (see topology.IdentityRules).
type Identity struct {
	Containers DockerContainers
	Veths      Veths
	Table      IdentityTable
}

type (
	// DockerContainers reads the containers Docker has on the networks of a
	// Linux bridge (Veth not set). An error whose Unavailable method reports
	// true means that Docker did not answer.
	DockerContainers interface {
		Containers(ctx context.Context, bridge string) ([]topology.Container, error)
	}
	// Veths finds the host-side veth on a bridge of the container whose
	// process is pid.
	Veths interface {
		Veth(ctx context.Context, bridge string, pid int) (string, error)
	}
	// IdentityTable keeps the identity table (see Firewall).
	IdentityTable interface {
		Apply(ctx context.Context, want topology.Identity, dryRun bool) ([]string, error)
	}
)

// applyIdentity is the identity step; a Reconciler without Identity has none.
// It runs once the docker0 step is done: the veths it looks for are ports of
// the bridges that step keeps.
func (p *pass) applyIdentity(ctx context.Context) {
	if p.r.Identity != nil {
		run(ctx, &p.identity, StepIdentity, func() ([]string, error) { return p.r.identity(ctx, p.want, p.dryRun) })
	}
}

// identity reads Docker's containers on each of the host's container bridges,
// finds each one's veth, and makes the identity table check exactly those.
//
// While Docker does not answer, or answers with an error, the table is left
// as it is: the containers it checks are still there as far as anyone knows,
// and an empty list would lift their checks. A container whose veth is not
// found (Docker reports it a moment before the kernel has it) is left out and
// named in the step's error, so that a loop retries soon.
func (r *Reconciler) identity(ctx context.Context, want topology.HostState, dryRun bool) ([]string, error) {
	var cs []topology.Container
	var errs []error
	for _, bridge := range want.ContainerBridges() {
		on, err := r.Identity.Containers.Containers(ctx, bridge)
		if unavailable(err) {
			r.Log.Debug("identity: Docker not reachable, table left as it is", "host", r.Host, "err", err)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("table left as it is: %w", err)
		}
		for _, c := range on {
			veth, err := r.Identity.Veths.Veth(ctx, bridge, c.Pid)
			if err != nil {
				errs = append(errs, fmt.Errorf("container %s on %s not checked yet: %w", c.Name, bridge, err))
				continue
			}
			c.Veth = veth
			cs = append(cs, c)
		}
	}
	plan, err := topology.PlanIdentity(cs)
	changes, aerr := r.Identity.Table.Apply(ctx, plan, dryRun)
	if aerr == nil {
		r.Log.Debug("identity: containers checked", "host", r.Host, "containers", len(plan.Chains))
	}
	return changes, errors.Join(append(errs, err, aerr)...)
}
