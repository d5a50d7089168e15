package topofile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Topology file guard defaults.
const (
	// DefaultSettle is how long the topology file must stay unchanged before it is
	// applied. scp and most editors write a file in place: caught in the middle,
	// it can be valid YAML that lists fewer hosts, whose tunnels would be deleted.
	DefaultSettle = time.Second
	// DefaultSettleWait bounds how long a single apply waits for a file that keeps
	// changing before it gives up (and changes nothing).
	DefaultSettleWait = 10 * time.Second
)

// fileSig identifies a version of the topology file without reading it.
type fileSig struct {
	exists bool
	size   int64
	mtime  time.Time
	ino    uint64
	err    string
}

func statFile(path string) fileSig {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{err: err.Error()}
	}
	return fileSig{exists: true, size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
}

// fileVersion is one reading of a file: its signature around the read and a hash
// of the bytes read.
type fileVersion struct {
	sig  fileSig
	hash [sha256.Size]byte
}

// FileGuard tells when a file has settled: it has not been written for Settle,
// as its modification time says and as two readings at least Settle apart show
// when the modification time cannot be trusted (a copy that kept the source's
// time, or a time in the future). The zero value uses DefaultSettle. It is not
// safe for concurrent use.
type FileGuard struct {
	Settle time.Duration

	seen   fileVersion // the last version read
	seenAt time.Time   // when that version was first read
	lastAt time.Time   // when the guard last read the file
	prevAt time.Time   // when the guard last read the version before seen (zero: none)
}

// Read reads the file at path. It returns its bytes once it has settled; until
// then it returns nil data and how long to wait before reading again. A file that
// cannot be read is an error at once (it is no partial version of anything).
func (g *FileGuard) Read(path string, now time.Time) (data []byte, wait time.Duration, err error) {
	settle := g.settle()
	before := statFile(path)
	if err := topology.CheckSize(path, before.size); err != nil {
		return nil, 0, err // a huge file is refused before it is read
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read topology: %w", err)
	}
	v := fileVersion{sig: statFile(path), hash: sha256.Sum256(data)}
	if v.sig != before {
		// Written while being read: look again once it could have settled.
		g.observe(v, now)
		return nil, settle, nil
	}
	g.observe(v, now)
	changed := v.sig.mtime
	if changed.After(now) || changed.Before(g.prevAt) {
		// A time in the future says nothing, nor does one from before the last
		// reading of the previous version (a copy that kept the source's time):
		// such a version counts from the moment it was first read.
		changed = g.seenAt
	}
	if quiet := now.Sub(changed); quiet < settle {
		return nil, settle - quiet, nil
	}
	return data, 0, nil
}

func (g *FileGuard) settle() time.Duration {
	if g.Settle <= 0 {
		return DefaultSettle
	}
	return g.Settle
}

// observe records v as the version read at now.
func (g *FileGuard) observe(v fileVersion, now time.Time) {
	defer func() { g.lastAt = now }()
	if !g.lastAt.IsZero() && v.sig == g.seen.sig && bytes.Equal(v.hash[:], g.seen.hash[:]) {
		return
	}
	g.prevAt = g.lastAt
	g.seen, g.seenAt = v, now
}

// LoadSettled loads the topology file at path once it has settled (see
// FileGuard), waiting for that at most maxWait; settle or maxWait 0 take the
// defaults. A file still changing after maxWait is an error, and nothing from it
// is applied.
func LoadSettled(ctx context.Context, path string, settle, maxWait time.Duration) (*topology.Topology, error) {
	if maxWait <= 0 {
		maxWait = DefaultSettleWait
	}
	g := &FileGuard{Settle: settle}
	deadline := time.Now().Add(maxWait)
	for {
		now := time.Now()
		data, wait, err := g.Read(path, now)
		if err != nil {
			return nil, err
		}
		if data != nil {
			return topology.Compile(path, data)
		}
		if now.Add(wait).After(deadline) {
			return nil, fmt.Errorf("topology file %s is still being written after %s: nothing applied (replace it atomically, e.g. write a temporary file and mv it over)", path, maxWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for topology file %s to settle: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}
