package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Member is a registered host as the view sees it.
type Member struct {
	Record
	Alive  bool `json:"alive"`   // its liveness key exists
	InPlan bool `json:"in_plan"` // it is in the topology (alive, not joined yet, within the grace, held, or this host)
}

// Stale is a key under the prefix that the view skips, and why.
type Stale struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Snapshot is the fleet at one etcd revision.
type Snapshot struct {
	Cluster  string         `json:"cluster"`
	Revision int64          `json:"revision"`
	Network  map[string]any `json:"network"` // the settings in force
	Members  []Member       `json:"members"`
	Stale    []Stale        `json:"stale,omitempty"`
	// Held is how many vanished hosts are kept in the plan because too many
	// vanished at once.
	Held int `json:"held,omitempty"`
	// KeptByDataPath is how many hosts past their liveness grace are kept in
	// the plan because this host's data path to them is up (ViewOptions.DataPathUp).
	KeptByDataPath int `json:"kept_by_data_path,omitempty"`
	// NetworkErr is set when the stored network settings are bad: the last good
	// ones are in force (if any).
	NetworkErr string `json:"network_error,omitempty"`
	// Topology is the compiled view; nil when there is no usable view (Err says
	// why). Text is its topology file.
	Topology *topology.Topology `json:"-"`
	Text     []byte             `json:"-"`
	Err      error              `json:"-"`
}

// viewer turns the keys of a cluster into snapshots. It remembers what a pure
// function cannot: when each host lost its liveness, and the last good network.
type viewer struct {
	keys  Keys
	self  string        // this host: always in its own plan ("" for none)
	grace time.Duration // how long a host that lost its liveness stays in the plan
	log   *slog.Logger

	kvs      map[string]kv
	rev      int64
	alive    map[string]bool      // hosts seen alive in the last snapshot
	lostAt   map[string]time.Time // when a host seen alive lost its liveness
	lastNet  map[string]any       // last good network settings
	badSeen  map[string]string    // stale keys already logged, by reason
	held     map[string]bool      // vanished hosts kept in the plan (mass loss)
	counters *Counters

	dataPathUp func(Record) bool // nil: no data-path signal
	kept       map[string]bool   // hosts kept by their data path in the last snapshot

	netText    string                // the network settings in force, as stored
	alone      map[string]aloneCheck // each record's own check, by key
	registered map[string]int64      // when each usable host registered its address
}

func newViewer(keys Keys, self string, grace time.Duration, log *slog.Logger, c *Counters) *viewer {
	return &viewer{keys: keys, self: self, grace: grace, log: log, counters: c,
		kvs: map[string]kv{}, alive: map[string]bool{}, lostAt: map[string]time.Time{}, held: map[string]bool{}, badSeen: map[string]string{},
		alone: map[string]aloneCheck{}, registered: map[string]int64{}}
}

// When more than massShare of the hosts alive lately (and at least two) lost
// their liveness within massWindow, their removal is held.
const (
	massShare  = 0.5
	massWindow = 30 * time.Second
)

// snapshot computes the view at now.
func (v *viewer) snapshot(now time.Time) Snapshot {
	s := Snapshot{Cluster: v.keys.Cluster, Revision: v.rev}
	network, netErr := v.network(&s)
	records, stale := v.records(network, v.netText)
	s.Stale = append(s.Stale, stale...)
	for _, r := range records {
		s.Members = append(s.Members, Member{Record: r, Alive: v.isAlive(r)})
	}
	v.track(now, s.Members)
	v.plan(now, &s)
	s.Network = network
	if network == nil {
		v.logStale(s.Stale)
		s.Err = netErr
		return s
	}
	var hosts []Record
	for _, m := range s.Members {
		if m.InPlan {
			hosts = append(hosts, m.Record)
		}
	}
	name := fmt.Sprintf("etcd %s revision %d", v.keys.Prefix(), v.rev)
	s.Topology, s.Text, s.Err = Compile(name, network, hosts)
	if s.Err != nil {
		// Hosts each valid on their own that do not fit together: those
		// registered last are left out, and the rest of the fleet goes on.
		keep, wrong := v.compatible(name, network, hosts)
		s.Stale = append(s.Stale, wrong...)
		s.Members = slices.DeleteFunc(s.Members, func(m Member) bool {
			return slices.ContainsFunc(wrong, func(st Stale) bool { return st.Key == v.keys.Host(m.Name) })
		})
		s.Topology, s.Text, s.Err = Compile(name, network, keep)
	}
	v.logStale(s.Stale)
	return s
}

// network returns the settings in force: the stored ones if good, else the last
// good ones (and records the problem in s).
func (v *viewer) network(s *Snapshot) (map[string]any, error) {
	key := v.keys.Network()
	e, ok := v.kvs[key]
	var err error
	if !ok {
		err = fmt.Errorf("%s: missing: run ovsmesh fleet init", key)
	} else if v.lastNet != nil && string(e.value) == v.netText {
		return v.lastNet, nil // checked when it was stored
	} else if e.tooBig > 0 {
		err = fmt.Errorf("%s: a value of %d bytes: the network settings hold at most %d", key, e.tooBig, MaxNetworkBytes)
	} else if m, perr := parseNetwork(e.value); perr != nil {
		err = fmt.Errorf("%s: %w", key, perr)
	} else if _, serr := Slots(m); serr != nil {
		err = fmt.Errorf("%s: invalid network settings: %w", key, serr)
	} else {
		v.lastNet, v.netText = m, string(e.value)
		return m, nil
	}
	s.NetworkErr = err.Error()
	if v.badSeen[key] != err.Error() {
		v.badSeen[key] = err.Error()
		v.counters.add(&v.counters.BadNetwork)
		if v.lastNet != nil {
			v.log.Error("fleet network settings refused: keeping the last good ones", "key", key, "err", err)
		} else {
			v.log.Error("fleet network settings refused and none good yet", "key", key, "err", err)
		}
	}
	return v.lastNet, err
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isAlive says whether r's liveness key exists and names r's machine.
func (v *viewer) isAlive(r Record) bool {
	e, ok := v.kvs[v.keys.Alive(r.Name)]
	if !ok || e.tooBig > 0 {
		return false
	}
	var a Alive
	if err := decodeStrict(e.value, &a); err != nil {
		return false
	}
	return r.MachineID == "" || a.MachineID == r.MachineID
}

// track records when hosts seen alive lose their liveness.
func (v *viewer) track(now time.Time, members []Member) {
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.Name] = true
		switch {
		case m.Alive:
			if !v.alive[m.Name] && !v.lostAt[m.Name].IsZero() {
				v.log.Info("fleet host alive again", "host", m.Name, "after", now.Sub(v.lostAt[m.Name]).Round(time.Millisecond))
			}
			delete(v.lostAt, m.Name)
			delete(v.held, m.Name)
			v.alive[m.Name] = true
		case v.alive[m.Name]:
			v.lostAt[m.Name] = now
			v.alive[m.Name] = false
			v.log.Info("fleet host lost its liveness", "host", m.Name, "grace", v.grace)
		}
	}
	for name := range v.alive {
		if !seen[name] {
			delete(v.alive, name)
			delete(v.lostAt, name)
			delete(v.held, name)
		}
	}
}

// plan sets InPlan: alive hosts, this host, seeded hosts that have not joined
// yet, hosts within the grace; hosts past
// the grace leave, unless too many vanished at once: then they are held (kept in
// the plan) until they come back or are removed.
func (v *viewer) plan(now time.Time, s *Snapshot) {
	// The share is of the hosts that were alive lately: hosts dead for long
	// (or never seen alive by this process) do not dilute a mass loss.
	recent, alive := 0, 0
	for _, m := range s.Members {
		if lost, ok := v.lostAt[m.Name]; ok && now.Sub(lost) < massWindow {
			recent++
		} else if m.Alive {
			alive++
		}
	}
	if recent >= 2 && float64(recent) > massShare*float64(recent+alive) {
		grew := false
		for _, m := range s.Members {
			if lost, ok := v.lostAt[m.Name]; ok && now.Sub(lost) < massWindow && !v.held[m.Name] {
				v.held[m.Name], grew = true, true
			}
		}
		if grew {
			v.counters.add(&v.counters.HeldRemovals)
			v.log.Warn("fleet: most hosts lost their liveness at once (etcd restart or partition?): holding their removal until they return or are removed",
				"lost", recent, "members", len(s.Members))
		}
	}
	kept := map[string]bool{}
	for i := range s.Members {
		m := &s.Members[i]
		lost, wasSeen := v.lostAt[m.Name]
		switch {
		case m.Alive || m.Name == v.self:
			m.InPlan = true
		case m.MachineID == "":
			// Seeded by fleet init and not joined yet: a host still run from
			// the topology file during a migration stays in everyone's plan.
			m.InPlan = true
		case wasSeen && now.Sub(lost) < v.grace:
			m.InPlan = true
		case v.held[m.Name]:
			m.InPlan = true
			s.Held++
		case wasSeen && v.dataPathUp != nil && v.dataPathUp(m.Record):
			// Cut off from etcd, not from us: its tunnel's BFD session is up.
			m.InPlan = true
			s.KeptByDataPath++
			kept[m.Name] = true
		}
	}
	v.logKept(kept)
}

// logKept logs the hosts that start or stop being kept by their data path.
func (v *viewer) logKept(kept map[string]bool) {
	for name := range kept {
		if !v.kept[name] {
			v.log.Warn("fleet host lost its liveness but this host's data path to it is up (BFD): kept in the plan while it stays up", "host", name)
		}
	}
	for name := range v.kept {
		if !kept[name] {
			v.log.Info("fleet host no longer kept by its data path", "host", name)
		}
	}
	v.kept = kept
}

// dataPathPoll is how often the plan is computed again while a host is kept
// by its data path, so that its BFD session going down is seen.
const dataPathPoll = time.Second

// next returns when the plan may change without a new revision (a grace ends,
// or a host kept by its data path may lose it), or zero.
func (v *viewer) next(now time.Time) time.Time {
	var at time.Time
	if len(v.kept) > 0 {
		at = now.Add(dataPathPoll)
	}
	for _, lost := range v.lostAt {
		end := lost.Add(v.grace)
		if !end.After(now) {
			continue
		}
		if at.IsZero() || end.Before(at) {
			at = end
		}
	}
	return at
}

// logStale logs each stale key once per reason and counts it.
func (v *viewer) logStale(stale []Stale) {
	for _, st := range stale {
		if v.badSeen[st.Key] == st.Reason {
			continue
		}
		v.badSeen[st.Key] = st.Reason
		v.counters.add(&v.counters.BadRecords)
		v.log.Error("fleet key skipped", "key", st.Key, "reason", st.Reason)
	}
}

// Export is the topology file of every registered host (alive or not, each with
// its index) and the settings in force: the way back to file mode.
func (s Snapshot) Export() ([]byte, error) {
	if s.Network == nil {
		return nil, errors.New("no usable network settings to export")
	}
	hosts := make([]Record, len(s.Members))
	for i, m := range s.Members {
		hosts[i] = m.Record
	}
	_, text, err := Compile(fmt.Sprintf("etcd revision %d", s.Revision), s.Network, hosts)
	if err != nil {
		return nil, fmt.Errorf("export the view: %w", err)
	}
	return text, nil
}

// MovedSlices names the members whose fixed-cidr slice or docker0 address
// differs between the settings in force and next (their containers' addresses
// would change).
func (s Snapshot) MovedSlices(next *topology.Topology) []string {
	if s.Network == nil {
		return nil
	}
	var hosts []Record
	for _, m := range s.Members {
		hosts = append(hosts, m.Record)
	}
	old, _, err := Compile("settings in force", s.Network, hosts)
	if err != nil {
		return nil
	}
	var moved []string
	for _, m := range s.Members {
		if old.Slice(m.Index) != next.Slice(m.Index) || old.Gateway(m.Index) != next.Gateway(m.Index) {
			moved = append(moved, fmt.Sprintf("%s (index %d: %s → %s)", m.Name, m.Index, old.Slice(m.Index), next.Slice(m.Index)))
		}
	}
	return moved
}
