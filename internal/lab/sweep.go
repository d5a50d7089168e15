package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// orphanAge is how old a lab directory without a state file must be before
// Sweep takes it for a leftover (New writes the state file right after
// creating the directory).
const orphanAge = time.Minute

// Sweep removes the leftovers of labs whose runs died without Close: for
// every lab directory os.TempDir()/ovsmesh-lab-<ID> and every namespace named
// like a lab's, it kills the daemons recorded in the pidfiles and any process
// in the namespaces, deletes the namespaces and removes the directory. Unless
// force is set, it leaves alone labs whose creating process still runs (a
// test in progress) and labs kept up on purpose (Keep, `ovsmesh-lab up`).
// Sweep returns the IDs of the labs it removed.
func Sweep(ctx context.Context, force bool) (removed []string, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: sweep: must run as root")
	}
	ids := map[string]string{} // ID -> dir ("" if none)
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("lab: sweep: %w", err)
	}
	for _, d := range dirs {
		id := strings.TrimPrefix(filepath.Base(d), dirPrefix)
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() && idRE.MatchString(id) {
			ids[id] = d
		}
	}
	nss, err := allLabNamespaces()
	if err != nil {
		return nil, fmt.Errorf("lab: sweep: %w", err)
	}
	for _, ns := range nss {
		id := nsRE.FindStringSubmatch(ns)[1]
		if _, ok := ids[id]; !ok {
			ids[id] = ""
		}
	}
	var errs []error
	for id, dir := range ids {
		if !force && dir != "" && !orphan(dir) {
			continue
		}
		if err := teardown(ctx, id, dir, nil); err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", id, err))
			continue
		}
		removed = append(removed, id)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("lab: sweep: %w", err)
	}
	return removed, nil
}

// orphan reports whether the lab in dir was left behind: it has an owner and
// the owner is gone, or it has no state file and is not fresh. A lab without
// a directory is always an orphan (Close removes the directory last).
func orphan(dir string) bool {
	if o, ok := readOwner(dir); ok {
		return o.PID != 0 && !o.alive()
	}
	fi, err := os.Stat(dir)
	return err != nil || time.Since(fi.ModTime()) > orphanAge
}
