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

// Keys names the keys of one cluster.
type Keys struct{ Cluster string }

// Prefix is the cluster's prefix, ending in '/'.
func (k Keys) Prefix() string { return Root + k.Cluster + "/" }

// Network is the key of the shared network settings.
func (k Keys) Network() string { return k.Prefix() + "network" }

// Host is the key of a host's record.
func (k Keys) Host(name string) string { return k.Prefix() + "hosts/" + name }

// Index is the key that marks index n as taken.
func (k Keys) Index(n int) string { return k.Prefix() + "index/" + strconv.Itoa(n) }

// Alive is the key a host keeps on its lease.
func (k Keys) Alive(name string) string { return k.Prefix() + "alive/" + name }

// kind splits a key of the cluster into its kind ("network", "hosts", "index",
// "alive") and name; ok is false for a key outside the schema.
func (k Keys) kind(key string) (kind, name string, ok bool) {
	rest, found := strings.CutPrefix(key, k.Prefix())
	if !found {
		return "", "", false
	}
	if rest == "network" {
		return "network", "", true
	}
	kind, name, found = strings.Cut(rest, "/")
	if !found || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	switch kind {
	case "hosts", "index", "alive":
		return kind, name, true
	}
	return "", "", false
}

// Record is a host's registration: written once when it joins, changed only when
// its address changes, deleted only by Remove.
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

// parseRecord decodes and checks the record stored under hosts/<name>.
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
	for k, v := range m { // numbers as numbers, so that they render as YAML integers
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				m[k] = i
			} else if f, err := n.Float64(); err == nil {
				m[k] = f
			}
		}
	}
	return m, nil
}

var readFile = os.ReadFile
