package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/internal/adapters"
	"github.com/ovsmesh/ovsmesh/internal/hostlock"
	"github.com/ovsmesh/ovsmesh/internal/sdnotify"
	"github.com/ovsmesh/ovsmesh/linuxbridge"
	"github.com/ovsmesh/ovsmesh/metrics"
	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// runLoop is `apply --interval`: it runs the loop on src (named topo in the log)
// until ctx is done (SIGINT, SIGTERM) and then returns nil, leaving the network
// as it is.
func runLoop(ctx context.Context, log *slog.Logger, src controller.Source, topo string, f applyFlags) error {
	var err error
	if f.host == "" {
		if f.host, err = os.Hostname(); err != nil {
			return fmt.Errorf("find this host's name (use --host): %w", err)
		}
	}
	if !f.lockHeld {
		lock, err := hostlock.Acquire(lockPath(f))
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	notifier, err := sdnotify.FromEnv()
	if err != nil {
		return err
	}
	defer notifier.Close()
	sd := adapters.NewSystemdObserver(notifier, log)
	db, err := ovsdb.ConnectRetrying(ctx, dbEndpoint(f), log, sd.Waiting, f.ovsdbOptions()...)
	if err != nil {
		return err
	}
	if db == nil { // stopped while waiting
		sd.Send(sdnotify.Stopping)
		return nil
	}
	defer db.Close()
	r, closeAll, err := newReconciler(f, log, db)
	if err != nil {
		return err
	}
	defer closeAll()
	if f.onDB != nil {
		f.onDB(db)
	}
	m := metrics.New(f.interval, tunnelSource(db))
	if f.onMetrics != nil {
		f.onMetrics(m)
	}
	loop := &controller.Loop{R: r, Source: src, Interval: f.interval, Changes: db.Changed(), Observer: adapters.Observers{m, sd},
		Links: linuxbridge.Watch(ctx, r.LinkNames, log)}
	srv, err := serveMetrics(f.metricsAddr, m, log)
	if err != nil {
		return err
	}
	log.Info("reconcile loop started", "host", f.host, "topology", topo, "interval", f.interval, "db", db.Endpoint(),
		"pass_deadline", controller.PassTimeout(f.interval), "systemd_notify", notifier != nil)
	err = loop.Run(ctx)
	sd.Send(sdnotify.Stopping, sdnotify.Status("stopping; the network is left as it is"))
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	log.Info("reconcile loop stopped; the network is left as it is", "host", f.host)
	return err
}

// serveMetrics serves /metrics and /healthz on addr ("": no server, nil).
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return srv, nil
}

// tunnelSource reads the tunnels' BFD and STP state from the OVSDB cache.
func tunnelSource(db *ovsdb.Client) metrics.TunnelSource {
	return func(ctx context.Context) ([]metrics.Tunnel, error) {
		st, err := db.State(ctx)
		if err != nil {
			return nil, err
		}
		var out []metrics.Tunnel
		for _, b := range st.Bridges {
			for _, p := range b.Ports {
				if !p.Tunnel() {
					continue
				}
				if p.Refused != "" {
					out = append(out, metrics.Tunnel{Name: p.Name, Refused: p.Refused})
					continue
				}
				if p.OFPort <= 0 {
					continue // not reported on yet
				}
				t := metrics.Tunnel{Name: p.Name}
				if s := p.BFDState(); s != nil {
					t.BFDEnabled, t.BFDUp, t.BFDForwarding, t.BFDFlaps = true, s.State == "up", s.Forwarding, s.Flaps
				}
				if s := b.SpanningTree(p); s != nil {
					t.STPState = s.State
				}
				out = append(out, t)
			}
		}
		return out, nil
	}
}
