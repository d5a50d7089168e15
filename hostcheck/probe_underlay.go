package hostcheck

import (
	"context"
	"net/netip"
	"os/exec"
	"strconv"
)

// minProbe is the smallest IP packet probed: answered means reachable.
const minProbe = 68

// Pinger sends one probe of an IP packet of size bytes with DF set and says
// whether it was answered.
type Pinger func(ctx context.Context, dst netip.Addr, size int) bool

// Ping is the Pinger of the system's ping(8): `ping -M do -s`.
func Ping(ctx context.Context, dst netip.Addr, size int) bool {
	hdr := 28 // IPv4 + ICMP
	if dst.Is6() && !dst.Is4In6() {
		hdr = 48
	}
	payload := max(size-hdr, 0)
	argv := []string{"-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-M", "do", "-s", strconv.Itoa(payload), dst.String()}
	if dst.Is6() {
		argv = append([]string{"-6"}, argv...)
	}
	return exec.CommandContext(ctx, "ping", argv...).Run() == nil
}

// ProbePath finds the largest packet up to want that crosses to dst with DF set,
// by binary search.
func ProbePath(ctx context.Context, ping Pinger, peer string, dst netip.Addr, want int) PathResult {
	r := PathResult{Peer: peer, Address: dst}
	if !ping(ctx, dst, minProbe) {
		return r
	}
	r.Reachable = true
	if ping(ctx, dst, want) {
		r.Largest = want
		return r
	}
	lo, hi := minProbe, want-1 // lo passes; want fails
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if ping(ctx, dst, mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	r.Largest = lo
	return r
}
