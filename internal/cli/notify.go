package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/internal/sdnotify"
)

// maxStatus bounds a STATUS= line: systemctl status shows one line, and a failed
// pass's error can list every problem of a large file.
const maxStatus = 400

// systemdObserver tells systemd how the loop is doing: READY=1 after the first
// pass that succeeded (the unit is Type=notify, so Docker, ordered after
// ovsmesh, starts only once daemon.json and docker0 are in place), and a STATUS=
// line after every pass. Without $NOTIFY_SOCKET it does nothing.
type systemdObserver struct {
	n       *sdnotify.Notifier
	log     *slog.Logger
	ready   bool
	loadErr error // the topology error of the pass under way, if any
	failed  bool  // the last message could not be sent (logged once per outage)
}

func (o *systemdObserver) LoadError(err error) { o.loadErr = err }

func (o *systemdObserver) Pass(_ context.Context, res controller.Result) {
	msg := []string{sdnotify.Status("%s", clip(o.status(res)))}
	if readyFor(res) && !o.ready {
		o.ready = true
		msg = append([]string{sdnotify.Ready}, msg...)
		if res.Err() == nil {
			o.log.Info("told systemd the service is ready: the first pass succeeded", "host", res.Host)
		} else {
			o.log.Info("told systemd the service is ready: the first pass succeeded but for the docker step (Docker starts after ovsmesh is ready)", "host", res.Host)
		}
	}
	o.loadErr = nil
	o.send(msg...)
}

// readyFor reports whether a pass makes the service ready: every step but the
// docker step succeeded. That step reads what Docker reports, and Docker, ordered
// after ovsmesh, starts (or restarts, to read daemon.json) only once ovsmesh is
// ready: waiting for it would hold Docker's start until TimeoutStartSec. Its
// failure still shows in the status line.
func readyFor(res controller.Result) bool {
	for _, s := range res.Steps {
		if s.Err != nil && s.Name != controller.StepDocker {
			return false
		}
	}
	return true
}

// status is the one-line state systemctl status shows.
func (o *systemdObserver) status(res controller.Result) string {
	if err := res.Err(); err != nil {
		if !o.ready && !readyFor(res) {
			return fmt.Sprintf("not ready, retrying: first passes failed: %v", err)
		}
		return fmt.Sprintf("last pass failed: %v", err)
	}
	tunnels := len(res.Want.OVS.Tunnels)
	if o.loadErr != nil {
		return fmt.Sprintf("converged with the last good topology (%d tunnels); topology file not loaded: %v", tunnels, o.loadErr)
	}
	return fmt.Sprintf("converged: %d tunnels", tunnels)
}

// waiting tells systemd, while the loop waits for ovsdb-server at start, why the
// service is not ready yet.
func (o *systemdObserver) waiting(err error) {
	o.send(sdnotify.Status("not ready: waiting for ovsdb-server: %v", err))
}

// send sends one message; a failure is logged once until a message goes through.
func (o *systemdObserver) send(lines ...string) {
	if err := o.n.Notify(lines...); err != nil {
		if !o.failed {
			o.log.Warn("could not tell systemd the service's state", "err", err)
		}
		o.failed = true
		return
	}
	o.failed = false
}

func clip(s string) string {
	if len(s) <= maxStatus {
		return s
	}
	return s[:maxStatus-3] + "..."
}

// observers hands every event to each observer in turn.
type observers []controller.Observer

func (obs observers) Pass(ctx context.Context, res controller.Result) {
	for _, o := range obs {
		o.Pass(ctx, res)
	}
}

func (obs observers) LoadError(err error) {
	for _, o := range obs {
		o.LoadError(err)
	}
}
