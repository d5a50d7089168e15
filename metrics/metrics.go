// Package metrics exposes what the reconcile loop does as Prometheus metrics (every
// name starts with ovsmesh_) on its own registry, and its health on /healthz. It
// implements controller.Observer; it imports controller and topology only.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Tunnel is the live state of one tunnel port, as OVSDB reports it.
type Tunnel struct {
	Name       string
	BFDEnabled bool
	BFDUp      bool // bfd_status:state == "up"
	BFDFlaps   int  // bfd_status:flap_count
	// BFDForwarding is bfd_status:forwarding == "true": what the relay choice of a
	// mesh with bfd: true reads (see topology.ChoosePath).
	BFDForwarding bool
	STPState      string // port status stp_state (or rstp_port_state), "" outside stp mode
	// Refused is why ovs-vswitchd did not set the tunnel up as asked (its error,
	// ofport -1, or another ofport than requested); "" when it did.
	Refused string
}

// TunnelSource reads the tunnels' live state after each pass (e.g. from the OVSDB
// cache).
type TunnelSource func(ctx context.Context) ([]Tunnel, error)

// STP port states exported as ovsmesh_tunnel_stp_state{state=...}.
var stpStates = []string{"disabled", "listening", "learning", "forwarding", "blocking", "discarding"}

// Metrics is a controller.Observer that keeps the metrics and the health of a
// loop. Safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	interval time.Duration
	tunnels  TunnelSource

	passes      prometheus.Counter
	failures    *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	desired     prometheus.Gauge
	actual      prometheus.Gauge
	repairs     *prometheus.CounterVec
	loadErrors  prometheus.Counter
	bfdUp       *prometheus.GaugeVec
	bfdFlaps    *prometheus.GaugeVec
	stpState    *prometheus.GaugeVec
	path        *prometheus.GaugeVec
	via         *prometheus.GaugeVec
	failovers   *prometheus.CounterVec
	refused     *prometheus.GaugeVec

	// members are the last pass's path choices (topology.HostState.PathMembers);
	// lastPath is each tunnel's path when last observed.
	pathMu   sync.Mutex
	members  map[string][]string
	lastPath map[string]string

	mu        sync.Mutex
	converged bool // a pass has succeeded: later changes are drift repairs
	lastOK    time.Time
	lastErr   error
	started   time.Time
}

var _ controller.Observer = (*Metrics)(nil)

// New returns the metrics of a loop that passes every interval. tunnels may be nil.
func New(interval time.Duration, tunnels TunnelSource) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), interval: interval, tunnels: tunnels, started: time.Now()}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "ovsmesh", Name: name, Help: help}
	}
	m.passes = prometheus.NewCounter(prometheus.CounterOpts(f("passes_total", "Reconcile passes run.")))
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts(f("pass_failures_total", "Failed reconcile steps, by subsystem (topology, preflight, ovsdb, docker0, openflow, files, docker).")), []string{"subsystem"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ovsmesh", Name: "pass_duration_seconds",
		Help: "Duration of reconcile passes.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts(f("last_success_timestamp_seconds", "Unix time of the last successful pass.")))
	m.desired = prometheus.NewGauge(prometheus.GaugeOpts(f("tunnels_desired", "Tunnels the topology wants on this host.")))
	m.actual = prometheus.NewGauge(prometheus.GaugeOpts(f("tunnels_actual", "Tunnel ports ovsmesh owns on this host with a valid OpenFlow port.")))
	m.repairs = prometheus.NewCounterVec(prometheus.CounterOpts(f("drift_repairs_total", "Changes made after the host had converged, by kind (ovsdb, docker0, openflow, files).")), []string{"kind"})
	m.loadErrors = prometheus.NewCounter(prometheus.CounterOpts(f("topology_load_errors_total", "Passes that found the topology file invalid, missing or unreadable.")))
	m.bfdUp = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("tunnel_bfd_up", "1 when BFD reports the tunnel up (bfd: true only).")), []string{"tunnel"})
	m.bfdFlaps = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("tunnel_bfd_flaps", "BFD flap count of the tunnel (bfd: true only).")), []string{"tunnel"})
	m.stpState = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("tunnel_stp_state", "1 for the tunnel port's current STP state (stp mode only).")), []string{"tunnel", "state"})
	m.path = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("tunnel_path", "1 for the path frames to the tunnel's peer take now: direct, relayed or down (mode mesh with bfd: true).")), []string{"tunnel", "path"})
	m.via = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("tunnel_relay", "1 for the relay's tunnel that carries frames to the tunnel's peer while its path is relayed.")), []string{"tunnel", "via"})
	m.failovers = prometheus.NewCounterVec(prometheus.CounterOpts(f("tunnel_failovers_total", "Times the path to the tunnel's peer was seen leaving the direct tunnel (to a relay, or down).")), []string{"tunnel"})
	m.refused = prometheus.NewGaugeVec(prometheus.GaugeOpts(f("tunnel_refused", "1 for a tunnel ovs-vswitchd refused, with its error (ofport -1, or another ofport than requested); absent otherwise.")), []string{"tunnel", "error"})
	goroutines := prometheus.NewGaugeFunc(prometheus.GaugeOpts(f("goroutines", "Goroutines of the ovsmesh process.")),
		func() float64 { return float64(runtime.NumGoroutine()) })
	heap := prometheus.NewGaugeFunc(prometheus.GaugeOpts(f("heap_inuse_bytes", "Heap in use by the ovsmesh process.")),
		func() float64 { var ms runtime.MemStats; runtime.ReadMemStats(&ms); return float64(ms.HeapInuse) })
	m.reg.MustRegister(goroutines, heap, m.passes, m.failures, m.duration, m.lastSuccess, m.desired, m.actual, m.repairs,
		m.loadErrors, m.bfdUp, m.bfdFlaps, m.stpState, m.path, m.via, m.failovers, m.refused)
	for _, s := range []string{controller.StepLoad, controller.StepOVSDB, controller.StepBridge, controller.StepFlows, controller.StepFiles, controller.StepFirewall} {
		m.failures.WithLabelValues(s)
		m.repairs.WithLabelValues(s)
	}
	m.failures.WithLabelValues(controller.StepGuard)  // a refusal repairs nothing
	m.failures.WithLabelValues(controller.StepDocker) // read-only: it repairs nothing
	return m
}

// Registry returns the registry, for other collectors (e.g. libovsdb's).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// LoadError implements controller.Observer.
func (m *Metrics) LoadError(error) { m.loadErrors.Inc() }

// Pass implements controller.Observer.
func (m *Metrics) Pass(ctx context.Context, res controller.Result) {
	m.passes.Inc()
	m.duration.Observe(res.Duration.Seconds())
	if res.Topology != nil {
		m.pathMu.Lock()
		m.members = res.Want.PathMembers()
		m.pathMu.Unlock()
	}
	if m.tunnels != nil {
		// Outside m.mu: reading OVSDB must never hold up /healthz.
		m.observeTunnels(ctx)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range res.Steps {
		if s.Err != nil {
			m.failures.WithLabelValues(s.Name).Inc()
		}
		if m.converged && len(s.Changes) > 0 {
			m.repairs.WithLabelValues(s.Name).Add(float64(len(s.Changes)))
		}
	}
	if err := res.Err(); err != nil {
		m.lastErr = err
	} else {
		m.lastErr = nil
		m.converged = true
		m.lastOK = time.Now()
		m.lastSuccess.Set(float64(m.lastOK.UnixNano()) / 1e9)
	}
	if res.Topology != nil {
		m.desired.Set(float64(len(res.Want.OVS.Tunnels)))
	}
}

func (m *Metrics) observeTunnels(ctx context.Context) {
	ts, err := m.tunnels(ctx)
	if err != nil {
		return // the OVSDB step of the pass reports why
	}
	m.bfdUp.Reset()
	m.bfdFlaps.Reset()
	m.stpState.Reset()
	m.refused.Reset()
	var working []Tunnel
	for _, t := range ts {
		if t.Refused != "" {
			m.refused.WithLabelValues(t.Name, t.Refused).Set(1)
		} else {
			working = append(working, t)
		}
	}
	m.actual.Set(float64(len(working)))
	m.observePaths(working)
	for _, t := range working {
		if t.BFDEnabled {
			m.bfdUp.WithLabelValues(t.Name).Set(b2f(t.BFDUp))
			m.bfdFlaps.WithLabelValues(t.Name).Set(float64(t.BFDFlaps))
		}
		if t.STPState != "" {
			for _, s := range stpStates {
				// 802.1D reports "forwarding", RSTP "Forwarding".
				m.stpState.WithLabelValues(t.Name, s).Set(b2f(strings.EqualFold(s, t.STPState)))
			}
		}
	}
}

// observePaths sets the path metrics of the tunnels that have relays.
func (m *Metrics) observePaths(ts []Tunnel) {
	m.pathMu.Lock()
	defer m.pathMu.Unlock()
	alive := make(map[string]bool, len(ts))
	for _, t := range ts {
		alive[t.Name] = t.BFDEnabled && t.BFDForwarding
	}
	m.path.Reset()
	m.via.Reset()
	last := m.lastPath
	m.lastPath = make(map[string]string, len(m.members))
	for name, members := range m.members {
		path, via := topology.ChoosePath(name, members, func(t string) bool { return alive[t] })
		for _, p := range []string{topology.PathDirect, topology.PathRelayed, topology.PathDown} {
			m.path.WithLabelValues(name, p).Set(b2f(p == path))
		}
		m.failovers.WithLabelValues(name) // 0 until the first failover
		if via != "" {
			m.via.WithLabelValues(name, via).Set(1)
		}
		if path != topology.PathDirect && last[name] == topology.PathDirect {
			m.failovers.WithLabelValues(name).Inc()
		}
		m.lastPath[name] = path
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Healthy reports whether the last pass succeeded within three intervals, and if
// not, why.
func (m *Metrics) Healthy(now time.Time) (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := 3 * m.interval
	switch {
	case m.lastErr != nil:
		return false, fmt.Sprintf("last pass failed: %v", m.lastErr)
	case m.lastOK.IsZero():
		return false, fmt.Sprintf("no successful pass yet (running for %s)", now.Sub(m.started).Round(time.Second))
	case now.Sub(m.lastOK) > limit:
		return false, fmt.Sprintf("last successful pass %s ago, more than three intervals (%s)", now.Sub(m.lastOK).Round(time.Second), limit)
	}
	return true, fmt.Sprintf("last successful pass %s ago", now.Sub(m.lastOK).Round(time.Millisecond))
}

// Handler serves /metrics (Prometheus text) and /healthz (200 or 503 with the reason).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := m.Healthy(time.Now())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	return mux
}
