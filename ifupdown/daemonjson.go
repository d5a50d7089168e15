package ifupdown

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Keys of Docker's daemon.json that ovsmesh owns. "bip" and "bridge" exclude each
// other (dockerd refuses to start with both): the plan sets one and the other is
// removed.
const (
	keyBridge    = "bridge"
	keyBIP       = "bip"
	keyFixedCIDR = "fixed-cidr"
	keyMTU       = "mtu"
)

// member is one key of a JSON object with its value exactly as the file has it.
type member struct {
	key   string
	value json.RawMessage
}

// MergeDaemonJSON returns Docker's daemon.json content with "bip" (for Docker's
// default bridge docker0) or "bridge" (any other bridge), "fixed-cidr" and "mtu"
// set from d, and the other of "bip" and "bridge" removed. Every other key keeps
// its place and its value (nested objects included); the result is indented with
// two spaces and ends in a newline. Empty or blank existing content counts as {}.
// When existing already holds exactly these values once each, existing itself is
// returned, so that a file is never rewritten for its formatting alone.
//
// Content that is not a JSON object is an error, changing nothing; a syntax error
// is reported as "LINE:COLUMN: message" (1-based, column in characters), to which
// the caller prefixes the file's path.
func MergeDaemonJSON(existing []byte, d topology.DaemonConfig) ([]byte, error) {
	members, err := parseObject(existing)
	if err != nil {
		return nil, err
	}
	if upToDate(members, d) {
		return existing, nil
	}
	return encodeObject(setMembers(members, wantMembers(d)))
}

// wantMembers returns the keys d sets, in the order a new file lists them; a nil
// value marks a key to remove.
func wantMembers(d topology.DaemonConfig) []member {
	bridge, bip := json.RawMessage(nil), json.RawMessage(nil)
	if d.BIP != "" {
		bip = jsonString(d.BIP)
	} else {
		bridge = jsonString(d.Bridge)
	}
	return []member{
		{keyBridge, bridge},
		{keyBIP, bip},
		{keyFixedCIDR, jsonString(d.FixedCIDR)},
		{keyMTU, json.RawMessage(strconv.Itoa(d.MTU))},
	}
}

// parseObject returns the members of the JSON object in data, in the file's order.
func parseObject(data []byte) ([]member, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	// Unmarshal reports the offset of a syntax error reliably; the token decoder
	// below does not, so it only ever sees valid JSON.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			pos := int(se.Offset) - 1 // the offending byte
			if err.Error() == "unexpected end of JSON input" {
				pos = len(data)
			}
			line, col := lineCol(data, max(pos, 0))
			return nil, fmt.Errorf("%d:%d: %w", line, col, err)
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
		line, col := lineCol(data, start)
		return nil, fmt.Errorf("%d:%d: the top-level value is not a JSON object", line, col)
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		members = append(members, member{key: tok.(string), value: value})
	}
	return members, nil
}

// lineCol returns the 1-based line and column (in characters) of byte offset pos.
func lineCol(data []byte, pos int) (line, col int) {
	before := data[:pos]
	start := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte("\n")) + 1, utf8.RuneCount(before[start:]) + 1
}

// upToDate reports whether members hold d's values, each key once, and not the
// one of "bip" and "bridge" that d does not set.
func upToDate(members []member, d topology.DaemonConfig) bool {
	seen := map[string]int{}
	for _, m := range members {
		seen[m.key]++
		var ok bool
		switch m.key {
		case keyBridge:
			ok = d.BIP == "" && stringIs(m.value, d.Bridge)
		case keyBIP:
			ok = d.BIP != "" && stringIs(m.value, d.BIP)
		case keyFixedCIDR:
			ok = stringIs(m.value, d.FixedCIDR)
		case keyMTU:
			var n int
			ok = json.Unmarshal(m.value, &n) == nil && n == d.MTU
		default:
			continue
		}
		if !ok {
			return false
		}
	}
	return seen[keyBridge]+seen[keyBIP] == 1 && seen[keyFixedCIDR] == 1 && seen[keyMTU] == 1
}

func stringIs(raw json.RawMessage, want string) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == want
}

// setMembers returns members with each of want's keys set in the place of its first
// occurrence (or appended), later occurrences and the keys want holds as nil removed.
func setMembers(members, want []member) []member {
	values := map[string]json.RawMessage{}
	for _, w := range want {
		values[w.key] = w.value
	}
	out := make([]member, 0, len(members)+len(want))
	for _, m := range members {
		if v, ours := values[m.key]; ours {
			if v != nil {
				out = append(out, member{m.key, v})
				values[m.key] = nil // set once
			}
			continue
		}
		out = append(out, m)
	}
	for _, w := range want {
		if values[w.key] != nil {
			out = append(out, w)
		}
	}
	return out
}

// encodeObject writes members as one JSON object indented by two spaces, with a
// final newline. Values are copied verbatim; only whitespace changes.
func encodeObject(members []member) ([]byte, error) {
	var compact bytes.Buffer
	compact.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			compact.WriteByte(',')
		}
		compact.Write(jsonString(m.key))
		compact.WriteByte(':')
		compact.Write(m.value)
	}
	compact.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("indent daemon.json: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// jsonString encodes s as a JSON string without HTML escaping.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
