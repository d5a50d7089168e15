package agent

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the fleet's metrics.
func (a *Agent) Collectors() []prometheus.Collector {
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ovsmesh", Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "ovsmesh", Name: name, Help: help}, v)
	}
	n := &a.n
	return []prometheus.Collector{
		gauge("fleet_revision", "etcd revision of the last fleet view.", func() float64 { return float64(n.Revision.Load()) }),
		gauge("fleet_held_hosts", "Vanished hosts kept in the plan because most hosts vanished at once.", func() float64 { return float64(a.held.Load()) }),
		gauge("fleet_kept_by_data_path_hosts", "Hosts past their liveness grace kept in the plan because this host's BFD session with them is up.",
			func() float64 { return float64(a.kept.Load()) }),
		counter("fleet_bad_records_total", "Fleet keys skipped: bad JSON, bad host records, stale indexes.", n.BadRecords.Load),
		counter("fleet_bad_network_total", "Fleet network settings refused (the last good ones stay in force).", n.BadNetwork.Load),
		counter("fleet_held_removals_total", "Times a mass loss of liveness held the removal of hosts.", n.HeldRemovals.Load),
		counter("fleet_relists_total", "Full reads of the fleet's keys (start, compaction, watch failure).", n.Relists.Load),
		counter("fleet_lease_regrants_total", "Liveness leases granted again after one was lost.", n.Regrants.Load),
		counter("fleet_liveness_restored_total", "This host's liveness key put back after someone else deleted or replaced it.", n.LivenessRestored.Load),
	}
}
