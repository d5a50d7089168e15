package controller

import (
	"context"
	"errors"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Docker reads what Docker itself reports of its network on a Linux bridge. It
// changes nothing. An error whose Unavailable method reports true means that
// Docker did not answer (not running, or not yet: at boot it starts after
// ovsmesh), which is not a difference from the plan.
type Docker interface {
	Network(ctx context.Context, bridge string) (topology.DockerNetwork, error)
}

// StepDocker is the read-only step that compares Docker's network with the plan.
const StepDocker = "docker"

// docker is the docker step, run after the others: it reads Docker's network on
// the plan's docker bridge and fails when it differs from the plan, saying how to
// fix it. files is this pass's files step (it writes daemon.json).
func (r *Reconciler) docker(ctx context.Context, want topology.DockerBridge, files Step, dryRun bool) error {
	have, err := r.Docker.Network(ctx, want.Name)
	if unavailable(err) {
		r.Log.Debug("docker: not compared with the plan", "host", r.Host, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	if diffs := topology.DockerDiff(want, have); len(diffs) > 0 {
		errs = append(errs, errors.New(strings.Join(diffs, "; ")+": "+restartFix(files, dryRun)))
	}
	if icc := topology.DockerICC(want, have); icc != "" {
		errs = append(errs, errors.New(icc+": "+topology.DockerICCFix(want)))
	}
	if len(errs) == 0 {
		r.Log.Debug("docker: its network matches the plan", "host", r.Host, "network", have.Name)
	}
	return errors.Join(errs...)
}

// restartFix is the fix for a difference: Docker reads daemon.json only when it
// starts.
func restartFix(files Step, dryRun bool) string {
	switch {
	case files.Err != nil:
		return "the files step failed, so daemon.json may not hold the plan: fix that, then restart Docker"
	case dryRun && len(files.Changes) > 0:
		return "apply writes daemon.json; then restart Docker to apply it"
	}
	return "restart Docker to apply daemon.json (it holds the plan; Docker reads it only when it starts)"
}
