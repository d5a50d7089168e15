package ifupdown

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MergeInterfaces returns the content of an interfaces(5) file with its ovsmesh
// block (from the BeginPrefix line to the EndPrefix line) replaced by block, or,
// when it has none, with block appended after one blank line. Every byte outside
// the block is kept as it is: comments, CRLF line ends, a missing final newline. An
// empty block removes the ovsmesh block. The function is pure and idempotent:
// merging the same block twice gives the same bytes as merging it once.
//
// It refuses, changing nothing, a file it cannot merge without guessing or without
// making ifupdown see an interface twice: a BEGIN marker without its END (or the
// reverse), two blocks, and an "iface" stanza outside the block for an interface
// the block defines (typically the operator's old hand-made recipe). The errors
// name the lines (1-based) and the interface; the caller adds the file's path.
func MergeInterfaces(existing, block []byte) ([]byte, error) {
	if len(block) > 0 {
		if err := checkBlock(block); err != nil {
			return nil, err
		}
	}
	lines := splitLines(existing)
	begin, end, err := findBlock(lines)
	if err != nil {
		return nil, err
	}
	if err := checkConflicts(lines, begin, end, block); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if begin >= 0 {
		for _, l := range lines[:begin] {
			out.Write(l)
		}
		out.Write(block)
		for _, l := range lines[end+1:] {
			out.Write(l)
		}
		return out.Bytes(), nil
	}
	out.Write(existing)
	if len(block) > 0 && len(existing) > 0 {
		eol := "\n"
		if bytes.HasSuffix(existing, []byte("\r\n")) {
			eol = "\r\n"
		}
		if !bytes.HasSuffix(existing, []byte("\n")) {
			out.WriteString(eol) // end the operator's last line
		}
		if last := lines[len(lines)-1]; len(bytes.TrimSpace(last)) > 0 {
			out.WriteString(eol) // the blank line before the block
		}
	}
	out.Write(block)
	return out.Bytes(), nil
}

// splitLines cuts b into lines that keep their line ends; the last one may have
// none. Joining the lines gives b back.
func splitLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 {
			n = len(b)
		}
		lines = append(lines, b[:n])
		b = b[n:]
	}
	return lines
}

type markerKind int

const (
	noMarker markerKind = iota
	beginMarker
	endMarker
)

func marker(line []byte) markerKind {
	s := string(bytes.TrimSpace(line))
	switch {
	case strings.HasPrefix(s, BeginPrefix):
		return beginMarker
	case strings.HasPrefix(s, EndPrefix):
		return endMarker
	}
	return noMarker
}

// findBlock returns the indexes of the BEGIN and END lines of the one ovsmesh
// block, or -1, -1 when there is none.
func findBlock(lines [][]byte) (begin, end int, err error) {
	begin, end = -1, -1
	for i, l := range lines {
		switch marker(l) {
		case beginMarker:
			switch {
			case begin >= 0 && end < 0:
				return 0, 0, fmt.Errorf("line %d: a second %q inside the ovsmesh block begun at line %d, which has no %q before it: fix the markers by hand",
					i+1, BeginPrefix, begin+1, EndPrefix)
			case begin >= 0:
				return 0, 0, fmt.Errorf("line %d: a second ovsmesh block (the first is lines %d-%d): remove one of them by hand",
					i+1, begin+1, end+1)
			}
			begin = i
		case endMarker:
			switch {
			case begin < 0:
				return 0, 0, fmt.Errorf("line %d: %q without a %q line before it: fix the markers by hand",
					i+1, EndPrefix, BeginPrefix)
			case end >= 0:
				return 0, 0, fmt.Errorf("line %d: a second %q (the ovsmesh block is lines %d-%d): fix the markers by hand",
					i+1, EndPrefix, begin+1, end+1)
			}
			end = i
		}
	}
	if begin >= 0 && end < 0 {
		return 0, 0, fmt.Errorf("line %d: %q without a %q line after it: ovsmesh will not guess where its block ends, fix the markers by hand",
			begin+1, BeginPrefix, EndPrefix)
	}
	return begin, end, nil
}

// checkBlock checks that block is one whole ovsmesh block, as RenderInterfaces
// makes it.
func checkBlock(block []byte) error {
	lines := splitLines(block)
	if marker(lines[0]) != beginMarker || marker(lines[len(lines)-1]) != endMarker || !bytes.HasSuffix(block, []byte("\n")) {
		return fmt.Errorf("the ovsmesh block must run from a %q line to a %q line ending in a newline", BeginPrefix, EndPrefix)
	}
	for i, l := range lines[1 : len(lines)-1] {
		if marker(l) != noMarker {
			return fmt.Errorf("line %d of the ovsmesh block is a marker line: %q", i+2, bytes.TrimSpace(l))
		}
	}
	return nil
}

// checkConflicts reports every "iface" stanza outside lines[begin..end] that
// defines an interface block defines: ifupdown would read both.
func checkConflicts(lines [][]byte, begin, end int, block []byte) error {
	ours := map[string]bool{}
	for _, d := range ifaces(splitLines(block), 0) {
		ours[d.name] = true
	}
	defs := ifaces(lines, 0)
	if begin >= 0 {
		defs = append(ifaces(lines[:begin], 0), ifaces(lines[end+1:], end+1)...)
	}
	var errs []error
	for _, d := range defs {
		if ours[d.name] {
			errs = append(errs, fmt.Errorf("line %d: iface %q is also defined in the ovsmesh block, and ifupdown would configure it twice: remove or rename this stanza (ovsmesh now builds %s)",
				d.line, d.name, d.name))
		}
	}
	return errors.Join(errs...)
}

type ifaceDef struct {
	name string
	line int // 1-based line of the "iface" keyword
}

// ifaces returns the interfaces that "iface NAME ..." stanzas define in lines,
// whose first line is line first+1 of the file. Like ifupdown, it reads a line
// ending in a backslash together with the next one and skips comment lines.
func ifaces(lines [][]byte, first int) []ifaceDef {
	var defs []ifaceDef
	var logical []byte
	start := -1
	for i, l := range lines {
		text := bytes.TrimRight(l, "\r\n")
		if start < 0 {
			if bytes.HasPrefix(bytes.TrimSpace(text), []byte("#")) {
				continue
			}
			start, logical = i, nil
		}
		if body, ok := bytes.CutSuffix(text, []byte(`\`)); ok {
			logical = append(append(logical, body...), ' ')
			continue
		}
		logical = append(logical, text...)
		if f := strings.Fields(string(logical)); len(f) >= 2 && f[0] == "iface" {
			defs = append(defs, ifaceDef{name: f[1], line: first + start + 1})
		}
		start = -1
	}
	return defs
}
