package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a topology file, with its position.
type Problem struct {
	File string
	Pos  Pos
	Path string // field path, e.g. "hosts[2].address"; "" for the file as a whole
	Msg  string
}

// Error formats the problem as "file:line:col: path: message".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Pos.Line, p.Pos.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems returns the problems an error from Parse, Validate, Compile or Load
// carries, in file order.
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(e error) {
		if p, ok := e.(*Problem); ok {
			out = append(out, p)
		} else if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// MaxFileSize is the largest topology file ovsmesh reads, in bytes (4 MiB). A
// 10,000-host file is about 0.6 MB; a 23 MB file took 7.9 s and 1.1 GB of memory
// to validate, which a loop re-reading it on every change cannot afford.
const MaxFileSize = 4 << 20

// CheckSize returns the problem of a file of size bytes over MaxFileSize, named
// name; nil for a file that fits. Readers check the size before reading.
func CheckSize(name string, size int64) error {
	if size <= MaxFileSize {
		return nil
	}
	return &Problem{File: name, Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d (4 MiB; a 10,000-host file is about 0.6 MB): is it the right file?", size, MaxFileSize)}
}

// Load reads, parses, defaults and validates the topology file at path. A file
// over MaxFileSize is refused before it is read.
func Load(path string) (*Topology, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if err := CheckSize(path, fi.Size()); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	return Compile(path, data)
}

// Compile parses, defaults and validates a topology file's content; name is used in
// error messages. The error lists every problem found (see Problems).
func Compile(name string, data []byte) (*Topology, error) {
	return compile(name, data, true)
}

// CompileNetwork is Compile for network settings alone, as fleet init reads them
// from a file and the fleet stores them: the hosts key may be left out (hosts
// given are checked as Compile checks them). Problems are reported at their
// places. Without hosts, the address plan (Slots, Slice, Gateway) is that of the
// settings; what depends on the hosts (their count, their underlay family: an
// IPv6 underlay lowers the largest mtu) is checked once they are added.
func CompileNetwork(name string, data []byte) (*Topology, error) {
	return compile(name, data, false)
}

func compile(name string, data []byte, needHosts bool) (*Topology, error) {
	t, err := parse(name, data, needHosts)
	if t == nil {
		return nil, err
	}
	t.Default()
	if err := errors.Join(err, t.Validate()); err != nil {
		return nil, sortProblems(err)
	}
	return t, nil
}

func sortProblems(err error) error {
	ps := Problems(err)
	if len(ps) == 0 {
		return err
	}
	slices.SortStableFunc(ps, func(a, b *Problem) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Parse decodes a topology file strictly: unknown or repeated keys and values of the
// wrong type are problems. It applies no defaults and checks nothing else. It
// returns a nil Topology only when the file is not YAML at all.
//
// Content over MaxFileSize is refused unread (nil Topology).
func Parse(name string, data []byte) (*Topology, error) {
	return parse(name, data, true)
}

func parse(name string, data []byte, needHosts bool) (*Topology, error) {
	if err := CheckSize(name, int64(len(data))); err != nil {
		return nil, err
	}
	d := &decoder{t: &Topology{File: name, pos: map[string]Pos{}, bad: map[string]bool{}}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxProblem(name, data, err)
	}
	if len(root.Content) == 0 {
		return nil, &Problem{File: name, Msg: "file is empty: want network and hosts"}
	}
	d.fields(root.Content[0], "", map[string]func(*yaml.Node, string){
		"network":  func(n *yaml.Node, p string) { d.network(n, p) },
		"hosts":    d.hosts,
		"links":    d.links,
		"networks": d.networks,
	})
	if _, ok := d.t.pos["hosts"]; !ok && needHosts {
		d.problem(root.Content[0], "hosts", "missing: list every host of the cluster")
	}
	return d.t, errors.Join(d.problems...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error into a Problem at the line of the fault
// (see faultLine); the column is that of the line's first character other than a
// space, so that a tab used for indentation is pointed at.
func syntaxProblem(name string, data []byte, err error) error {
	msg, reported := strings.TrimPrefix(err.Error(), "yaml: "), 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		msg = m[2]
		reported, _ = strconv.Atoi(m[1])
	}
	starts := lineStarts(data)
	line := faultLine(data, starts, err.Error(), reported)
	text := data[starts[line-1]:]
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	col := 1 + len(text) - len(bytes.TrimLeft(text, " "))
	if hint, ok := syntaxHints[msg]; ok {
		msg += " (" + hint + ")"
	}
	return &Problem{File: name, Pos: Pos{line, col}, Msg: "invalid YAML: " + msg}
}

// syntaxHints explain, for the line faultLine finds, the yaml.v3 errors that a
// hand-edited topology file most often causes.
var syntaxHints = map[string]string{
	"did not find expected key":                                    "this line does not continue the mapping above it: check its indentation",
	"did not find expected '-' indicator":                          "this line does not continue the list above it: check its indentation",
	"mapping values are not allowed in this context":               "check the indentation, and quote a value that contains ': '",
	"did not find expected ',' or ']'":                             "a '[' is not closed by ']', or an item lacks its ','",
	"did not find expected ',' or '}'":                             "a '{' is not closed by '}', or a key lacks its ','",
	"found a tab character that violates indentation":              "indent with spaces: YAML forbids tabs there",
	"found a tab character where an indentation space is expected": "indent with spaces: YAML forbids tabs there",
	"found unexpected end of stream":                               "a quoted string that starts on this line is never closed",
	"could not find expected ':'":                                  "a key lacks its ':'",
}

// faultLine returns the line of the fault behind want, the text of the error
// yaml.v3 returned for data; reported is the line that text names (0: none).
// yaml.v3 names the line where the construct holding the fault begins, parser
// errors one line before that: an unclosed '[' on line 6 comes out as "line 5", a
// stray key on line 14 as the line before its mapping. Rather than guess from the
// wording, faultLine asks yaml.v3: the fault is on the last line of the shortest
// run of whole lines from the top of the file that fails with the very same error.
// Shorter runs parse, or fail differently (the text names another line), so a
// binary search over the number of lines finds it in about log2(lines) parses,
// each of which stops at the fault. The fault cannot lie before the reported line,
// which bounds the search from below.
func faultLine(data []byte, starts []int, want string, reported int) int {
	fails := func(lines int) bool {
		end := len(data)
		if lines < len(starts) {
			end = starts[lines]
		}
		var n yaml.Node
		err := yaml.Unmarshal(data[:end], &n)
		return err != nil && err.Error() == want
	}
	// fails(lo) is false; fails(hi) is true: the whole file is what failed.
	lo, hi := max(min(reported, len(starts))-1, 0), len(starts)
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// lineStarts returns the offset of the start of each line of data.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

type decoder struct {
	t        *Topology
	problems []error
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, &Problem{File: d.t.File, Pos: Pos{n.Line, n.Column}, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.t.bad[path] = true
}

// fields walks a mapping node, calling the handler of each known key with the value
// node and its field path; unknown and repeated keys are problems. It records where
// each key's value is under its field path.
func (d *decoder) fields(n *yaml.Node, path string, handlers map[string]func(*yaml.Node, string)) {
	known := make([]string, 0, len(handlers))
	for name := range handlers {
		known = append(known, name)
	}
	slices.Sort(known)
	record := func(_ int, p string, v *yaml.Node) bool {
		if _, dup := d.t.pos[p]; dup {
			return false
		}
		d.t.pos[p] = Pos{v.Line, v.Column}
		return true
	}
	d.keys(n, path, known, record, func(key string, v *yaml.Node, p string) { handlers[key](v, p) })
}

// item walks list item n, a mapping whose allowed keys are known (sorted), like
// fields, but records where the item and its keys are in at. Unlike fields it
// allocates no map: it serves every list item.
func (d *decoder) item(n *yaml.Node, path string, known []string, at *itemPos, handle func(key string, v *yaml.Node, path string)) {
	at.item = Pos{n.Line, n.Column}
	record := func(key int, _ string, v *yaml.Node) bool {
		if at.keys[key] != (Pos{}) {
			return false
		}
		at.keys[key] = Pos{v.Line, v.Column}
		return true
	}
	d.keys(n, path, known, record, handle)
}

// keys walks a mapping node whose allowed keys are known (sorted). For each of them
// it calls record with the key's index in known, its field path and the value node
// (record returns false if the key was already seen), then handle with the key, the
// value node and the field path; unknown and repeated keys are problems.
func (d *decoder) keys(n *yaml.Node, path string, known []string, record func(key int, path string, v *yaml.Node) bool, handle func(key string, v *yaml.Node, path string)) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		j, ok := slices.BinarySearch(known, k.Value)
		if !ok {
			d.problem(k, p, "unknown key (known keys: %s)", strings.Join(known, ", "))
			continue
		}
		if !record(j, p, v) {
			d.problem(k, p, "repeated key")
			continue
		}
		handle(k.Value, v, p)
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.problem(n, path, "want %s, got %s", want, kindName(n))
		return false
	}
	return true
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		if d.scalar(n, p, "a string") {
			*dst = n.Value
		}
	}
}

func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		if !d.scalar(n, p, "an integer") {
			return
		}
		v, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil || n.Tag != "!!int" {
			d.problem(n, p, "%q is not an integer", n.Value)
			return
		}
		*dst = int(v)
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		if !d.scalar(n, p, "true or false") {
			return
		}
		v, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			d.problem(n, p, "%q is not true or false", n.Value)
			return
		}
		*dst = v
	}
}

func (d *decoder) network(n *yaml.Node, path string) {
	nw := &d.t.Network
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"bridge":          d.str(&nw.Bridge),
		"encap":           d.str(&nw.Encap),
		"mode":            d.str(&nw.Mode),
		"datapath":        d.str(&nw.Datapath),
		"underlay_mtu":    d.integer(&nw.UnderlayMTU),
		"mtu":             d.integer(&nw.MTU),
		"slice_prefix":    d.integer(&nw.SlicePrefix),
		"docker_bridge":   d.str(&nw.DockerBridge),
		"vxlan_port":      d.integer(&nw.VXLANPort),
		"rstp":            d.boolean(&nw.RSTP),
		"bfd":             d.boolean(&nw.BFD),
		"bfd_interval_ms": d.integer(&nw.BFDIntervalMS),
		"bfd_mult":        d.integer(&nw.BFDMult),
		"subnet": func(n *yaml.Node, p string) {
			if !d.scalar(n, p, "a CIDR such as 172.17.0.0/16") {
				return
			}
			pr, err := netip.ParsePrefix(n.Value)
			if err != nil {
				d.problem(n, p, "%q is not a CIDR (want e.g. 172.17.0.0/16)", n.Value)
				return
			}
			nw.Subnet = pr
		},
		"key": func(n *yaml.Node, p string) {
			if !d.scalar(n, p, "an integer") {
				return
			}
			v, err := strconv.ParseUint(n.Value, 0, 32)
			if err != nil || n.Tag != "!!int" {
				d.problem(n, p, "%q is not an integer from 0 to 4294967295", n.Value)
				return
			}
			k := uint32(v)
			nw.Key = &k
		},
	})
}

// hostKeys are the keys of a host, sorted: itemPos.keys follows this order.
var hostKeys = []string{"address", "index", "name"}

func (d *decoder) hosts(n *yaml.Node, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "want a list of hosts, got %s", kindName(n))
		return
	}
	d.t.Hosts = make([]Host, len(n.Content))
	d.t.hostPos = make([]itemPos, len(n.Content))
	for i, item := range n.Content {
		h := &d.t.Hosts[i]
		p := path + "[" + strconv.Itoa(i) + "]"
		d.item(item, p, hostKeys, &d.t.hostPos[i], func(key string, v *yaml.Node, p string) {
			switch key {
			case "name":
				d.str(&h.Name)(v, p)
			case "index":
				d.integer(&h.Index)(v, p)
			case "address":
				if !d.scalar(v, p, "an IP address") {
					return
				}
				a, err := netip.ParseAddr(v.Value)
				if err != nil || a.Zone() != "" {
					d.problem(v, p, "%q is not an IP address", v.Value)
					return
				}
				h.Address = a.Unmap()
			}
		})
	}
}

// linkKeys are the keys of a link, sorted: itemPos.keys follows this order.
var linkKeys = []string{"a", "b", "cost"}

func (d *decoder) links(n *yaml.Node, path string) {
	d.t.linksOK = true
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "want a list of links such as {a: docker1, b: docker2, cost: 10}, got %s", kindName(n))
		return
	}
	d.t.Links = make([]Link, len(n.Content))
	d.t.linkPos = make([]itemPos, len(n.Content))
	for i, item := range n.Content {
		l := &d.t.Links[i]
		p := path + "[" + strconv.Itoa(i) + "]"
		d.item(item, p, linkKeys, &d.t.linkPos[i], func(key string, v *yaml.Node, p string) {
			switch key {
			case "a":
				d.str(&l.A)(v, p)
			case "b":
				d.str(&l.B)(v, p)
			case "cost":
				d.integer(&l.Cost)(v, p)
			}
		})
	}
}
