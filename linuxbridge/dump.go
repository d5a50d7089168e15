package linuxbridge

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// dumpTries bounds the retries of an interrupted netlink dump.
const dumpTries = 5

// retryDump runs a netlink call that may dump (AddrList; LinkByName on kernels
// without lookup by name) until its result is consistent. When the kernel's table
// changes during a dump, netlink ≥ 1.2 returns the partial result together with
// ErrDumpInterrupted; acting on it could delete or miss an address.
func retryDump[T any](fn func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpTries {
		v, err = fn()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("still inconsistent after %d tries: %w", dumpTries, err)
}
