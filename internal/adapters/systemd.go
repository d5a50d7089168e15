package adapters

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

// SystemdObserver tells systemd how the loop is doing: READY=1 after the first
// pass that succeeded (the unit is Type=notify, so Docker, ordered after
// ovsmesh, starts only once daemon.json and docker0 are in place), and a STATUS=
// line after every pass. Without $NOTIFY_SOCKET (a nil Notifier) it does
// nothing. It must not be used by two goroutines at once.
type SystemdObserver struct {
	n       *sdnotify.Notifier
	log     *slog.Logger
	ready   bool
	loadErr error // the topology error of the pass under way, if any
	failed  bool  // the last message could not be sent (logged once per outage)
}

// NewSystemdObserver tells systemd through n (nil: nothing) and logs through log.
func NewSystemdObserver(n *sdnotify.Notifier, log *slog.Logger) *SystemdObserver {
	return &SystemdObserver{n: n, log: log}
}

var _ controller.Observer = (*SystemdObserver)(nil)

// LoadError remembers the topology error of the pass under way for its STATUS= line.
func (o *SystemdObserver) LoadError(err error) { o.loadErr = err }

// Pass sends READY=1 with the first pass that makes the service ready (see
// readyFor) and a STATUS= line for every pass.
func (o *SystemdObserver) Pass(_ context.Context, res controller.Result) {
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
	o.Send(msg...)
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
func (o *SystemdObserver) status(res controller.Result) string {
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

// Waiting tells systemd, while the loop waits for ovsdb-server at start, why the
// service is not ready yet (see ovsdb.ConnectRetrying).
func (o *SystemdObserver) Waiting(err error) {
	o.Send(sdnotify.Status("not ready: waiting for ovsdb-server: %v", err))
}

// Send sends one message; a failure is logged once until a message goes through.
func (o *SystemdObserver) Send(lines ...string) {
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

// Observers hands every event to each observer in turn.
type Observers []controller.Observer

var _ controller.Observer = Observers(nil)

// Pass hands the pass's result to each observer.
func (obs Observers) Pass(ctx context.Context, res controller.Result) {
	for _, o := range obs {
		o.Pass(ctx, res)
	}
}

// LoadError hands the topology error to each observer.
func (obs Observers) LoadError(err error) {
	for _, o := range obs {
		o.LoadError(err)
	}
}
