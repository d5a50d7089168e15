package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Root is the prefix of every cluster's keys.
const Root = "/ovsmesh/"

// Limits on what a host keeps of a value: a host record or a liveness value is
// a few hundred bytes; anything longer is refused without being kept. The
// network settings are the operator's, and may be longer.
const (
	MaxRecordBytes  = 4 << 10
	MaxNetworkBytes = 64 << 10
)

// Keys names the keys of one cluster. Every key a host writes is under its own
// prefix, hosts/<name>/, so that etcd's per-user roles can give each host's
// identity write access to its own keys only (see Grant).
type Keys struct{ Cluster string }

// Prefix is the cluster's prefix, ending in '/'.
func (k Keys) Prefix() string { return Root + k.Cluster + "/" }

// Network is the key of the shared network settings (the operator's only).
func (k Keys) Network() string { return k.Prefix() + "network" }

// Hosts is the prefix of every host's keys.
func (k Keys) Hosts() string { return k.Prefix() + "hosts/" }

// HostPrefix is the prefix of name's keys, the only ones name's identity writes.
func (k Keys) HostPrefix(name string) string { return k.Hosts() + name + "/" }

// Host is the key of a host's record.
func (k Keys) Host(name string) string { return k.HostPrefix(name) + "record" }

// Alive is the key a host keeps on its lease.
func (k Keys) Alive(name string) string { return k.HostPrefix(name) + "alive" }

// IndexClaim is name's claim of index n. Of the claims of one index, the one
// created first wins (etcd's create revision).
func (k Keys) IndexClaim(name string, n int) string {
	return k.HostPrefix(name) + "index/" + strconv.Itoa(n)
}

// AddressClaim is name's claim of an underlay address; the first created wins.
func (k Keys) AddressClaim(name string, a netip.Addr) string {
	return k.HostPrefix(name) + "address/" + a.String()
}

// The keys of the layout before per-host prefixes (ovsmesh fleet migrate
// converts them): hosts/<name> (the record), index/<n> and alive/<name>.
func (k Keys) oldIndexes() string { return k.Prefix() + "index/" }
func (k Keys) oldAlive() string   { return k.Prefix() + "alive/" }
func (k Keys) oldHost(name string) string {
	return k.Hosts() + name
}

// keyKind is what a key under the hosts/ prefix (or the network key) is.
type keyKind int

const (
	kindJunk      keyKind = iota // not an ovsmesh key
	kindNetwork                  // network
	kindRecord                   // hosts/<name>/record
	kindAlive                    // hosts/<name>/alive
	kindIndex                    // hosts/<name>/index/<n>
	kindAddress                  // hosts/<name>/address/<ip>
	kindOldRecord                // hosts/<name>: the layout before per-host prefixes
)

// parsedKey is a key split into its kind, host and claimed value.
type parsedKey struct {
	kind  keyKind
	host  string
	index int        // kindIndex
	addr  netip.Addr // kindAddress
}

// parse splits a key of the cluster.
func (k Keys) parse(key string) parsedKey {
	if key == k.Network() {
		return parsedKey{kind: kindNetwork}
	}
	rest, found := strings.CutPrefix(key, k.Hosts())
	if !found || rest == "" {
		return parsedKey{}
	}
	host, sub, found := strings.Cut(rest, "/")
	if !found {
		return parsedKey{kind: kindOldRecord, host: host}
	}
	if host == "" {
		return parsedKey{}
	}
	p := parsedKey{host: host}
	switch what, arg, _ := strings.Cut(sub, "/"); {
	case sub == "record":
		p.kind = kindRecord
	case sub == "alive":
		p.kind = kindAlive
	case what == "index":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || strconv.Itoa(n) != arg {
			return parsedKey{host: host}
		}
		p.kind, p.index = kindIndex, n
	case what == "address":
		a, err := netip.ParseAddr(arg)
		if err != nil || a.String() != arg {
			return parsedKey{host: host}
		}
		p.kind, p.addr = kindAddress, a
	}
	return p
}

// keepsValue says whether a view needs the value of a key of kind k (claims
// and unknown keys are used, or reported, by their key alone).
func keepsValue(k keyKind) bool {
	return k == kindNetwork || k == kindRecord || k == kindAlive || k == kindOldRecord
}

// valueLimit is the longest value of kind k a host keeps.
func valueLimit(k keyKind) int {
	if k == kindNetwork {
		return MaxNetworkBytes
	}
	return MaxRecordBytes
}

// Record is a host's registration: written once when it joins, changed only when
// its address changes, deleted only by Remove. Its index and address count only
// with the host's claims of them (IndexClaim, AddressClaim) that were first.
type Record struct {
	Name      string     `json:"name"`
	Address   netip.Addr `json:"address"`
	Index     int        `json:"index"`
	MachineID string     `json:"machine_id"`
}

// Alive is the value of a host's liveness key.
type Alive struct {
	MachineID string `json:"machine_id"`
	Since     string `json:"since"` // RFC 3339, when this lease was granted
}

// decodeStrict decodes one JSON value and refuses unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// parseRecord decodes and checks the record stored under hosts/<name>/record.
func parseRecord(name string, data []byte) (Record, error) {
	var r Record
	if err := decodeStrict(data, &r); err != nil {
		return r, fmt.Errorf("not a host record: %w", err)
	}
	switch {
	case r.Name != name:
		return r, fmt.Errorf("name %q differs from the key's %q", r.Name, name)
	case !r.Address.IsValid():
		return r, fmt.Errorf("no valid address")
	case r.Index < 1:
		return r, fmt.Errorf("index %d: want 1 or more", r.Index)
	}
	return r, nil
}

// parseNetwork decodes the network settings: a JSON object of the topology file's
// network keys (only those the operator gave; the rest take their defaults).
func parseNetwork(data []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object of network settings: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object of network settings: null")
	}
	jsonNumbers(m) // numbers as numbers, so that they render as YAML integers
	return m, nil
}

var readFile = os.ReadFile
