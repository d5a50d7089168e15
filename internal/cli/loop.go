package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/internal/hostlock"
	"github.com/ovsmesh/ovsmesh/metrics"
	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// runLoop is `apply --interval`: it runs until ctx is done (SIGINT, SIGTERM) and
// then returns nil, leaving the network as it is.
func runLoop(ctx context.Context, path string, f applyFlags, stderr io.Writer) error {
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if f.host == "" {
		if f.host, err = os.Hostname(); err != nil {
			return fmt.Errorf("find this host's name (use --host): %w", err)
		}
	}
	lock, err := hostlock.Acquire(lockPath(f))
	if err != nil {
		return err
	}
	defer lock.Release()
	db, err := connect(ctx, dbEndpoint(f), log, f.ovsdbOptions()...)
	if err != nil {
		return err
	}
	defer db.Close()
	r, closeAll, err := newReconciler(path, f, log, db)
	if err != nil {
		return err
	}
	defer closeAll()
	m := metrics.New(f.interval, tunnelSource(db))
	if f.onMetrics != nil {
		f.onMetrics(m)
	}
	loop := &controller.Loop{R: r, Interval: f.interval, Changes: db.Changed(), Observer: m, FilePoll: f.filePoll}
	var srv *http.Server
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "addr", f.metricsAddr, "err", err)
			}
		}()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}
	log.Info("reconcile loop started", "host", f.host, "topology", path, "interval", f.interval, "db", db.Endpoint())
	err = loop.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	log.Info("reconcile loop stopped; the network is left as it is", "host", f.host)
	return err
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
				if !p.Owned || (p.Type != "gre" && p.Type != "vxlan") || p.OFPort <= 0 {
					continue
				}
				t := metrics.Tunnel{Name: p.Name, BFDEnabled: p.BFD["enable"] == "true", BFDUp: p.BFDStatus["state"] == "up"}
				t.BFDFlaps, _ = strconv.Atoi(p.BFDStatus["flap_count"])
				if b.STP {
					t.STPState = p.STPStatus["stp_state"]
				} else if b.RSTP {
					t.STPState = p.RSTPStatus["rstp_port_state"]
				}
				out = append(out, t)
			}
		}
		return out, nil
	}
}
