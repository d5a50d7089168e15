package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsmesh/ovsmesh/fleet"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Config is what an Agent is made of.
type Config struct {
	Client    *fleet.Client
	Host      string     // this host's name in the fleet
	Address   netip.Addr // its underlay address
	MachineID string
	ViewFile  string        // the saved view
	TTL       time.Duration // of the liveness lease
	Grace     time.Duration // fleet.ViewOptions.Grace
	Log       *slog.Logger
}

// Agent is one host's membership of a fleet. Its methods are safe for
// concurrent use.
type Agent struct {
	Config
	n        fleet.Counters
	held     atomic.Int64 // read by the metrics
	kept     atomic.Int64 // read by the metrics
	dataPath dataPath

	mu         sync.Mutex
	view       *topology.Topology // the view in force (nil: none yet)
	text       []byte             // its text
	written    []byte             // the text and revision last saved
	writtenRev int64
	missing    bool // this host was not in the last view (logged once)
	followed   bool // a view from etcd was put in force
	changed    chan struct{}
	first      chan struct{} // closed once a view from etcd is in force
}

// New makes an Agent and the directory of its saved view; it connects to
// nothing.
func New(c Config) (*Agent, error) {
	if err := os.MkdirAll(filepath.Dir(c.ViewFile), 0o755); err != nil {
		return nil, fmt.Errorf("create the directory of the fleet view %s: %w", c.ViewFile, err)
	}
	return &Agent{Config: c, changed: make(chan struct{}, 1), first: make(chan struct{})}, nil
}

// Join registers the host, retrying while etcd is unreachable until ctx is
// done. A refusal (another machine's record, no free index, no fleet) is
// returned.
func (a *Agent) Join(ctx context.Context) error {
	retry := 200 * time.Millisecond
	for {
		r, err := a.Client.Join(ctx, a.Host, a.Address, a.MachineID)
		if err == nil {
			a.Log.Info("fleet: joined", "host", a.Host, "index", r.Index, "address", r.Address)
			return nil
		}
		if !fleet.Unreachable(err) || ctx.Err() != nil {
			return err
		}
		a.Log.Warn("fleet: etcd unreachable, join retried", "host", a.Host, "err", err, "retry", retry)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
		retry = min(2*retry, 2*time.Second)
	}
}

// KeepAlive keeps the host's liveness lease until ctx is done (see
// fleet.Client.KeepAlive).
func (a *Agent) KeepAlive(ctx context.Context) {
	a.Client.KeepAlive(ctx, a.Host, a.MachineID, a.TTL, a.Log, &a.n)
}

// JoinFirst bounds how long a host with a saved view waits for its join before
// it puts the saved view in force. The join (an etcd read and a write or two)
// goes first, so that the other hosts learn of a restarted host before its
// first pass, at 1000 hosts hundreds of ms of CPU, competes with it; when etcd
// does not answer in time (a reboot during an outage), the saved view goes in
// force then, and joining goes on in the background.
const JoinFirst = 500 * time.Millisecond

// Start joins and follows the fleet in the background until ctx is done, and
// returns once a view is in force: with the saved view once joined or after
// JoinFirst (etcd may be down: a reboot during an outage; joining goes on in
// the background), else the first view after joining. It returns a refused
// join's error when there is no saved view, and nil when ctx ends first.
func (a *Agent) Start(ctx context.Context) error {
	joined := make(chan error, 1)
	go func() { joined <- a.Join(ctx) }()
	if _, err := os.Stat(a.ViewFile); err == nil {
		select {
		case err := <-joined:
			joined <- err // for what follows: the channel held only this one
		case <-time.After(JoinFirst):
		case <-ctx.Done():
			return nil
		}
	}
	follow := func() {
		go a.KeepAlive(ctx)
		go a.Follow(ctx)
	}
	if a.LoadSaved() {
		a.Log.Info("fleet: starting from the saved view while joining", "path", a.ViewFile)
		go func() {
			if err := <-joined; err != nil {
				a.Log.Error("fleet: join refused: the saved view stays in force", "host", a.Host, "err", err)
				return
			}
			follow()
		}()
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-joined:
		if err != nil {
			return err
		}
	}
	follow()
	select {
	case <-ctx.Done():
	case <-a.first:
	}
	return nil
}

// Follow follows the fleet's view until ctx is done: every view that includes
// this host is saved and put in force.
func (a *Agent) Follow(ctx context.Context) {
	a.Client.Watch(ctx, fleet.ViewOptions{Self: a.Host, Grace: a.Grace, Log: a.Log, Counters: &a.n, DataPathUp: a.dataPath.isUp}, a.take)
}

// take handles one view from the watch.
func (a *Agent) take(s fleet.Snapshot) {
	a.held.Store(int64(s.Held))
	a.kept.Store(int64(s.KeptByDataPath))
	if s.Topology == nil {
		a.Log.Error("fleet view unusable: the last one stays in force", "revision", s.Revision, "err", s.Err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := s.Topology.Host(a.Host); err != nil {
		if !a.missing && a.followed {
			a.Log.Warn("fleet: this host is no longer in the fleet's view (removed with fleet remove?): the last view stays in force; restart to join again",
				"host", a.Host, "revision", s.Revision)
		}
		a.missing = true
		return // not registered yet, or removed: nothing new to apply
	}
	a.missing = false
	if err := a.save(s); err != nil {
		a.Log.Error("fleet view not saved: the last one stays in force", "path", a.ViewFile, "err", err)
		return
	}
	a.putInForce(s)
	if !a.followed {
		a.followed = true
		close(a.first)
	}
}

// View reads the fleet's view once, as a one-shot apply does: it must include
// this host. With save, it is saved as the saved view.
func (a *Agent) View(ctx context.Context, save bool) (fleet.Snapshot, error) {
	s, err := a.Client.Snapshot(ctx, fleet.ViewOptions{Self: a.Host, Log: a.Log})
	if err != nil {
		return s, err
	}
	if s.Topology == nil {
		return s, fmt.Errorf("fleet %s at revision %d has no usable view: %w", a.Client.Keys.Cluster, s.Revision, s.Err)
	}
	if _, err := s.Topology.Host(a.Host); err != nil {
		return s, fmt.Errorf("fleet %s at revision %d: %w", a.Client.Keys.Cluster, s.Revision, err)
	}
	if save {
		a.mu.Lock()
		defer a.mu.Unlock()
		if err := a.save(s); err != nil {
			return s, fmt.Errorf("save the fleet view %s: %w", a.ViewFile, err)
		}
	}
	return s, nil
}
