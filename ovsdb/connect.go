package ovsdb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// ConnectTimeout bounds a first connection made by Dial, ConnectRetrying and
// ConnectInBackground: the connection to ovsdb-server and its first monitor reply.
const ConnectTimeout = 10 * time.Second

// RetryInterval is the pause between ConnectRetrying's attempts.
const RetryInterval = 2 * time.Second

// Dial is Connect bounded by ConnectTimeout.
func Dial(ctx context.Context, endpoint string, log *slog.Logger, opts ...Option) (*Client, error) {
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	return Connect(cctx, endpoint, log, opts...)
}

// ConnectRetrying dials ovsdb-server (see Dial), trying again every
// RetryInterval while the server cannot be reached: a reconcile loop started
// before Open vSwitch waits for it. waiting (nil: none) is called with each
// failed attempt's error, e.g. to tell systemd why the service is not ready yet;
// the first attempt and every 30th are logged. Other errors (a bad endpoint) are
// returned at once. It returns nil, nil when ctx ends first.
func ConnectRetrying(ctx context.Context, endpoint string, log *slog.Logger, waiting func(error), opts ...Option) (*Client, error) {
	for attempt := 1; ; attempt++ {
		db, err := Dial(ctx, endpoint, log, opts...)
		var u interface{ Unavailable() bool }
		switch {
		case err == nil:
			return db, nil
		case ctx.Err() != nil:
			return nil, nil
		case !errors.As(err, &u) || !u.Unavailable():
			return nil, err
		}
		if attempt == 1 || attempt%30 == 0 {
			log.Error("ovsdb-server unreachable at start: retrying", "db", endpoint, "every", RetryInterval, "attempt", attempt, "err", err)
		}
		if waiting != nil {
			waiting(err)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(RetryInterval):
		}
	}
}

// Pending is a Client still connecting in the background (ConnectInBackground):
// a single pass starts connecting while it does the work that needs no OVSDB (a
// monitor of 1000 tunnels takes a tenth of a second). Its methods wait for the
// connection; a failed connection is each method's error, so that the pass's
// other steps still run, as with any failing step. Its methods are safe for
// concurrent use.
type Pending struct {
	done chan struct{}
	db   *Client
	err  error
}

// ConnectInBackground starts dialling (see Dial) and returns at once.
func ConnectInBackground(ctx context.Context, endpoint string, log *slog.Logger, opts ...Option) *Pending {
	p := &Pending{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.db, p.err = Dial(ctx, endpoint, log, opts...)
	}()
	return p
}

// wait waits for the connection; it returns its error.
func (p *Pending) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Check waits for the connection and checks the bridge (Client.Check).
func (p *Pending) Check(ctx context.Context, want topology.OVSState) error {
	if err := p.wait(ctx); err != nil {
		return err
	}
	return p.db.Check(ctx, want)
}

// Apply waits for the connection and applies want (Client.Apply).
func (p *Pending) Apply(ctx context.Context, want topology.OVSState, dryRun bool) ([]string, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.db.Apply(ctx, want, dryRun)
}

// ApplyBridgeFirst waits for the connection and applies want
// (Client.ApplyBridgeFirst).
func (p *Pending) ApplyBridgeFirst(ctx context.Context, want topology.OVSState, created func()) ([]string, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.db.ApplyBridgeFirst(ctx, want, created)
}

// Sessions waits for the connection and reads the bridge's BFD sessions from the
// cache (Client.Sessions).
func (p *Pending) Sessions(ctx context.Context, bridge string) (map[string]topology.BFDSession, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.db.Sessions(ctx, bridge)
}

// Close waits for the connection attempt and closes what it opened.
func (p *Pending) Close() {
	<-p.done
	if p.db != nil {
		p.db.Close()
	}
}
