package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
)

// DefaultVSwitchdTimeout bounds how long Apply waits for ovs-vswitchd to apply a
// transaction (Open_vSwitch.cur_cfg to reach the next_cfg Apply set).
const DefaultVSwitchdTimeout = 10 * time.Second

// Connection timeouts (see Connect). A live ovsdb-server answers an echo in well
// under a millisecond; one that is stopped (SIGSTOP, or stuck) keeps the socket
// open and answers nothing, and without a probe every call would wait forever.
const (
	// DefaultCallTimeout bounds each request sent to the server (a transaction),
	// so that a stuck server fails the OVSDB step and the rest of the pass runs.
	// A transaction that creates 1000 tunnels is answered in about 0.2 s.
	DefaultCallTimeout = 10 * time.Second
	// inactivityProbe: after this long without a message from the server the
	// client sends an echo, and reconnects when none comes back within as long
	// again: a stuck server is noticed within about 10 s. It is ovsdb-server's and
	// ovs-vswitchd's own default probe interval.
	inactivityProbe = 5 * time.Second
	// reconnectTimeout bounds each reconnection attempt (connect, schema, monitor
	// reply of every row ovsmesh monitors: about 0.1 s with 1000 tunnels). libovsdb
	// wants it below inactivityProbe.
	reconnectTimeout = 4 * time.Second
	// maxReconnectInterval caps the backoff between reconnection attempts.
	maxReconnectInterval = 5 * time.Second
	// lockWait bounds how long a check of the connection waits: libovsdb holds
	// its connection lock for the whole of a reconnection attempt, which against
	// a stuck server lasts reconnectTimeout. Unanswered, the client is taken as
	// not connected.
	lockWait = 500 * time.Millisecond
	// closeWait bounds Close for the same reason.
	closeWait = time.Second
)

// DefaultEndpoint returns the database address the OVS tools use:
// unix:$OVS_RUNDIR/db.sock, with OVS_RUNDIR defaulting to /var/run/openvswitch.
func DefaultEndpoint() string {
	dir := os.Getenv("OVS_RUNDIR")
	if dir == "" {
		dir = "/var/run/openvswitch"
	}
	return "unix:" + strings.TrimSuffix(dir, "/") + "/db.sock"
}

// Option changes how a Client behaves; pass options to Connect.
type Option func(*Client)

// WithVSwitchdTimeout sets how long Apply waits for ovs-vswitchd to apply a
// transaction (DefaultVSwitchdTimeout when not given).
func WithVSwitchdTimeout(d time.Duration) Option {
	return func(c *Client) { c.vswitchdTimeout = d }
}

// WithCallTimeout sets how long one request to the server may take
// (DefaultCallTimeout when not given; 0 or less: only the caller's context).
func WithCallTimeout(d time.Duration) Option {
	return func(c *Client) { c.callTimeout = d }
}

// WithoutVSwitchdWait makes Apply return as soon as ovsdb-server committed the
// transaction, without waiting for ovs-vswitchd. Only for tests against a database
// that no ovs-vswitchd serves (libovsdb's in-memory server).
func WithoutVSwitchdWait() Option {
	return func(c *Client) { c.vswitchdTimeout = 0 }
}

// WithTakeOver lets Apply change the topology's bridge although it carries no
// owner mark or another host's (see ErrForeignBridge, ErrOtherOwner): the operator
// asked for it, e.g. to migrate a bridge built by hand with the classic recipe.
func WithTakeOver() Option {
	return func(c *Client) { c.takeOver = true }
}

// Client is a connection to one ovsdb-server, with a cache of the four tables
// ovsmesh manages (Open_vSwitch, Bridge, Port, Interface). It reconnects by itself
// when the server restarts. Its methods are safe for concurrent use.
type Client struct {
	endpoint        string
	log             *slog.Logger
	ovs             client.Client
	vswitchdTimeout time.Duration
	takeOver        bool
	callTimeout     time.Duration
	transactions    atomic.Int64
	applyMu         sync.Mutex // serializes Apply: each pass diffs against the previous one's result
	// recreated are the refused tunnels the previous Apply recreated (see
	// repair.go); guarded by applyMu.
	recreated map[string]bool
	changed   chan struct{}
}

// Connect connects to the ovsdb-server at endpoint ("unix:PATH" or
// "tcp:HOST:PORT"), monitors the tables ovsmesh manages and returns once the
// cache holds their current content. Later disconnections are retried forever
// with exponential backoff, and a server that stops answering (stuck, or
// stopped with SIGSTOP) is noticed by an echo probe within about 10 s and treated
// as a disconnection. Close the client when done.
func Connect(ctx context.Context, endpoint string, log *slog.Logger, opts ...Option) (*Client, error) {
	if err := checkEndpoint(endpoint); err != nil {
		return nil, err
	}
	c := &Client{
		endpoint:        endpoint,
		log:             log,
		vswitchdTimeout: DefaultVSwitchdTimeout,
		callTimeout:     DefaultCallTimeout,
		changed:         make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(c)
	}
	dbModel, err := clientModel()
	if err != nil {
		return nil, err
	}
	// MaxElapsedTime 0: keep retrying; the default (15 min) would give up for good.
	bo := backoff.NewExponentialBackOff()
	bo.MaxElapsedTime = 0
	// Cap the wait between attempts (default 60 s, ±50%), so that the loop
	// converges soon after a long outage ends.
	bo.MaxInterval = maxReconnectInterval
	lg := logr.FromSlogHandler(log.With("component", "libovsdb").Handler())
	c.ovs, err = client.NewOVSDBClient(dbModel,
		client.WithEndpoint(endpoint),
		// Echo probes on an idle connection, reconnecting (with bo) when one goes
		// unanswered: libovsdb's WithReconnect alone never notices a stuck server.
		client.WithInactivityCheck(inactivityProbe, reconnectTimeout, bo),
		client.WithLogger(&lg))
	if err != nil {
		return nil, fmt.Errorf("ovsdb client for %s: %w", endpoint, err)
	}
	if err := c.ovs.Connect(ctx); err != nil {
		return nil, connectError{endpoint, err}
	}
	if err := c.monitor(ctx); err != nil {
		c.ovs.Close()
		return nil, fmt.Errorf("monitor the Open_vSwitch database at %s: %w", endpoint, err)
	}
	return c, nil
}

func checkEndpoint(endpoint string) error {
	scheme, addr, _ := strings.Cut(endpoint, ":")
	switch {
	case scheme == "unix" && addr != "":
		return nil
	case scheme == "tcp" && strings.Contains(addr, ":"):
		return nil
	}
	return fmt.Errorf("ovsdb endpoint %q: want unix:PATH or tcp:HOST:PORT", endpoint)
}

// monitor subscribes to the four tables. Port and Interface statistics are left
// out: ovs-vswitchd rewrites them every few seconds for every interface, which
// would flood the cache (and Changed) with updates nobody here reads.
func (c *Client) monitor(ctx context.Context) error {
	var (
		root   vswitchd.OpenvSwitch
		bridge vswitchd.Bridge
		port   vswitchd.Port
		iface  vswitchd.Interface
	)
	m := c.ovs.NewMonitor(
		client.WithTable(&root, &root.Bridges, &root.NextCfg, &root.CurCfg, &root.OVSVersion),
		client.WithTable(&bridge),
		client.WithTable(&port, &port.Name, &port.Interfaces, &port.ExternalIDs, &port.OtherConfig,
			&port.Status, &port.RSTPStatus),
		client.WithTable(&iface, &iface.Name, &iface.Type, &iface.Options, &iface.BFD, &iface.BFDStatus,
			&iface.ExternalIDs, &iface.Ofport, &iface.OfportRequest, &iface.MTURequest, &iface.MTU,
			&iface.Error, &iface.LinkState, &iface.AdminState),
	)
	if len(m.Errors) > 0 {
		return errors.Join(m.Errors...)
	}
	c.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.notify() },
		UpdateFunc: func(string, model.Model, model.Model) { c.notify() },
		DeleteFunc: func(string, model.Model) { c.notify() },
	})
	_, err := c.ovs.Monitor(ctx, m)
	return err
}

// clientModel is the part of the Open_vSwitch schema ovsmesh reads and writes.
func clientModel() (model.ClientDBModel, error) {
	m, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitchd.OpenvSwitchTable: &vswitchd.OpenvSwitch{},
		vswitchd.BridgeTable:      &vswitchd.Bridge{},
		vswitchd.PortTable:        &vswitchd.Port{},
		vswitchd.InterfaceTable:   &vswitchd.Interface{},
	})
	if err != nil {
		return m, fmt.Errorf("build the Open_vSwitch database model: %w", err)
	}
	return m, nil
}

// notify never blocks: libovsdb drops events when a handler is slow.
func (c *Client) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// connected reports whether the client has a live connection. libovsdb's
// Connected stays true after the server dropped the connection (it turns false
// only on Disconnect or Close), and reading the cache then waits for the
// reconnection: the endpoint it is connected to is cleared at once, though.
//
// While libovsdb (re)connects it holds the lock these calls take, for up to
// reconnectTimeout against a stuck server: the check gives up after lockWait and
// reports no connection (the goroutine ends when the attempt does).
func (c *Client) connected() bool {
	ch := make(chan bool, 1)
	go func() { ch <- c.ovs.Connected() && c.ovs.CurrentEndpoint() != "" }()
	t := time.NewTimer(lockWait)
	defer t.Stop()
	select {
	case ok := <-ch:
		return ok
	case <-t.C:
		return false
	}
}

// callContext returns ctx bounded by the client's call timeout.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.callTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.callTimeout)
}

// notConnected is the error of a call made while the client has no connection. It
// says Unavailable, so that a reconcile pass can tell an unreachable server from a
// refused change (see controller).
type notConnected struct{ endpoint string }

func (e notConnected) Error() string {
	return fmt.Sprintf("not connected to ovsdb-server at %s (reconnecting)", e.endpoint)
}

// Unavailable reports that the server could not be reached.
func (notConnected) Unavailable() bool { return true }

// connectError is a failed first connection; it says Unavailable too.
type connectError struct {
	endpoint string
	err      error
}

func (e connectError) Error() string {
	return fmt.Sprintf("connect to ovsdb-server at %s: %v", e.endpoint, e.err)
}
func (e connectError) Unwrap() error   { return e.err }
func (connectError) Unavailable() bool { return true }

// Changed receives a value (coalesced) after any change to the monitored tables,
// including the client's own transactions and ovs-vswitchd's status updates. A
// reconcile loop can wait on it besides its timer; a pass that finds nothing to do
// sends nothing, so this cannot loop.
func (c *Client) Changed() <-chan struct{} { return c.changed }

// Transactions returns how many transactions this client has sent to the server.
func (c *Client) Transactions() int { return int(c.transactions.Load()) }

// Endpoint returns the address the client connects to.
func (c *Client) Endpoint() string { return c.endpoint }

// Close disconnects and stops reconnecting. It waits at most closeWait: during a
// reconnection attempt to a stuck server libovsdb's Close waits for the attempt,
// and a shutdown must not (the attempt ends by itself within reconnectTimeout).
func (c *Client) Close() {
	done := make(chan struct{})
	go func() { c.ovs.Close(); close(done) }()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.log.Warn("ovsdb client still closing, not waiting for it", "endpoint", c.endpoint, "waited", closeWait)
	}
}
