package fleet

import "sync/atomic"

// Counters count what a View refused or held, for metrics. Safe for concurrent use.
type Counters struct {
	BadRecords   atomic.Int64 // keys skipped (bad JSON, bad record, stale index), each once per reason
	BadNetwork   atomic.Int64 // network settings refused (each bad version once)
	HeldRemovals atomic.Int64 // times a mass loss of liveness held removals
	Relists      atomic.Int64 // full re-reads of the prefix (start, compaction, watch failure)
	Revision     atomic.Int64 // revision of the last snapshot
	Regrants     atomic.Int64 // leases granted again after one was lost
	// LivenessRestored counts liveness keys put back after someone else
	// deleted or replaced them.
	LivenessRestored atomic.Int64
}

// add adds one to n, a field of c; c must not be nil (callers replace a nil
// *Counters by a private one).
func (c *Counters) add(n *atomic.Int64) { n.Add(1) }
