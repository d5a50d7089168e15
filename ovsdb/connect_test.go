package ovsdb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestConnectRetryingWaits: while nothing listens at the endpoint the retry
// reports why it waits, and ending ctx ends it without an error.
func TestConnectRetryingWaits(t *testing.T) {
	endpoint := "unix:" + filepath.Join(t.TempDir(), "db.sock")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	var waited []error
	db, err := ConnectRetrying(ctx, endpoint, testLogger(t), func(err error) { waited = append(waited, err) })
	if db != nil || err != nil {
		t.Fatalf("ConnectRetrying after ctx ended = %v, %v; want nil, nil", db, err)
	}
	if len(waited) != 1 || !strings.Contains(waited[0].Error(), endpoint) {
		t.Errorf("waiting was called with %v, want one error naming %s", waited, endpoint)
	}
}

// TestConnectRetryingBadEndpoint: an endpoint that can never work is returned at
// once, without waiting.
func TestConnectRetryingBadEndpoint(t *testing.T) {
	_, err := ConnectRetrying(t.Context(), "db.sock", testLogger(t), func(err error) { t.Errorf("waited on %v", err) })
	if err == nil || !strings.Contains(err.Error(), "want unix:PATH or tcp:HOST:PORT") {
		t.Errorf("ConnectRetrying(bad endpoint) = %v", err)
	}
}

// TestConnectRetryingConnects: a listening server is connected to at once.
func TestConnectRetryingConnects(t *testing.T) {
	endpoint, _ := memoryServer(t)
	db, err := ConnectRetrying(t.Context(), endpoint, testLogger(t), func(err error) { t.Errorf("waited on %v", err) })
	if err != nil || db == nil {
		t.Fatalf("ConnectRetrying = %v, %v", db, err)
	}
	db.Close()
}

// TestPendingFailed: a connection that failed is the error of every method, and
// says Unavailable so that the pass tells it from a refusal.
func TestPendingFailed(t *testing.T) {
	endpoint := "unix:" + filepath.Join(t.TempDir(), "db.sock")
	p := ConnectInBackground(t.Context(), endpoint, testLogger(t))
	defer p.Close()
	var u interface{ Unavailable() bool }
	if _, err := p.Apply(t.Context(), topology.OVSState{}, true); !errors.As(err, &u) || !u.Unavailable() {
		t.Errorf("Apply = %v, want an Unavailable error", err)
	}
	if err := p.Check(t.Context(), topology.OVSState{}); !errors.As(err, &u) || !u.Unavailable() {
		t.Errorf("Check = %v, want an Unavailable error", err)
	}
	if _, err := p.Sessions(t.Context(), "br0"); !errors.As(err, &u) || !u.Unavailable() {
		t.Errorf("Sessions = %v, want an Unavailable error", err)
	}
}

// TestPendingConnects: once connected, Pending serves the client's reads.
func TestPendingConnects(t *testing.T) {
	endpoint, _ := memoryServer(t)
	p := ConnectInBackground(t.Context(), endpoint, testLogger(t), WithoutVSwitchdWait())
	defer p.Close()
	s, err := p.Sessions(t.Context(), "br0")
	if err != nil || len(s) != 0 {
		t.Errorf("Sessions of a database without a bridge = %v, %v; want none", s, err)
	}
}
