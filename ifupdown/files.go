package ifupdown

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Files is the adapter that keeps a host's two files in line with its HostState:
// the ovsmesh block of the interfaces file and ovsmesh's keys in daemon.json. An
// empty path leaves that file alone. Apply is safe to call repeatedly, but not
// concurrently for the same paths. Use it by pointer: it remembers its last
// merge of the interfaces file (see merged).
type Files struct {
	Interfaces string       // e.g. /etc/network/interfaces
	DaemonJSON string       // e.g. /etc/docker/daemon.json
	Log        *slog.Logger // nil: no logging

	last lastMerge // the last merge of the interfaces file
}

// lastMerge is one merge of the interfaces file: the file's bytes and the block it
// was given, and what came out. Merging is a function of the two: the same
// bytes and block give the same result without parsing the file again (at 1000
// tunnels, most of a steady pass's files step).
type lastMerge struct{ old, block, out []byte }

// merged merges block into old, or returns the last result when both are the
// bytes it was computed from.
func (f *Files) merged(old, block []byte) ([]byte, error) {
	if f.last.out != nil && bytes.Equal(old, f.last.old) && bytes.Equal(block, f.last.block) {
		return f.last.out, nil
	}
	out, err := MergeInterfaces(old, block)
	if err != nil {
		f.last = lastMerge{}
		return nil, err
	}
	f.last = lastMerge{old: old, block: block, out: out}
	return out, nil
}

// filePerm is the mode of a file Files creates; an existing file keeps its own.
const filePerm = 0o644

// Apply merges want into both files and writes those whose bytes change, returning
// one line per file written (or, with dryRun, that it would write, writing
// nothing). A file that already matches is only read. A file that cannot be merged
// (broken markers, a duplicate stanza, invalid JSON) is left as it is and reported;
// the other file is still applied. A zero want.Daemon leaves daemon.json alone.
func (f *Files) Apply(ctx context.Context, want topology.HostState, dryRun bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := want.Docker
	files := []struct {
		path, what string
		merge      func([]byte) ([]byte, error)
		at         string // separator before a merge error: "path: line 3: …", "path:3:1: …"
	}{
		{
			f.Interfaces,
			fmt.Sprintf("ovsmesh block: bridge %s, %s, %s %s", want.OVS.Bridge, count(len(want.OVS.Tunnels), "tunnel"), d.Name, d.Address),
			func(old []byte) ([]byte, error) { return f.merged(old, RenderInterfaces(want)) },
			": ",
		},
		{
			f.DaemonJSON,
			daemonSummary(want.Daemon),
			func(old []byte) ([]byte, error) { return MergeDaemonJSON(old, want.Daemon) },
			":",
		},
	}
	if want.Daemon == (topology.DaemonConfig{}) {
		files[1].path = "" // the caller holds daemon.json back
	}
	var changes []string
	var errs []error
	for _, file := range files {
		if file.path == "" {
			continue
		}
		old, err := os.ReadFile(file.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("read %s: %w", file.path, err))
			continue
		}
		data, err := file.merge(old)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%s%w", file.path, file.at, err))
			continue
		}
		if old != nil && bytes.Equal(old, data) {
			f.log().Debug("file up to date", "path", file.path)
			continue
		}
		change := "write " + file.path + ": " + file.what
		if !dryRun {
			if _, err := WriteIfChanged(file.path, data, filePerm); err != nil {
				errs = append(errs, err)
				continue
			}
			f.log().Debug("wrote file", "path", file.path, "content", file.what)
		}
		changes = append(changes, change)
	}
	return changes, errors.Join(errs...)
}

// daemonSummary describes the keys of daemon.json apply sets.
func daemonSummary(d topology.DaemonConfig) string {
	first := "bridge=" + d.Bridge
	if d.BIP != "" {
		first = "bip=" + d.BIP
	}
	return fmt.Sprintf("%s fixed-cidr=%s mtu=%d", first, d.FixedCIDR, d.MTU)
}

// count returns "1 tunnel", "2 tunnels".
func count(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

func (f *Files) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}
