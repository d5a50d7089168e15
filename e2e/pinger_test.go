package e2e

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// pinger is a ping running in the background from a container, every interval,
// with a timestamp on each reply (ping -D): until stopped, or count echoes.
type pinger struct {
	from, to string
	cmd      *exec.Cmd
	out      testenv.Buffer // ping's stdout and stderr
	done     chan struct{}
}

func (p *pinger) output() string {
	return p.out.String()
}

// startPinger starts `ping -D -i interval dst` in ct: until stop if count is 0,
// else count echoes (waiting up to 2 s for the last replies; see wait). The
// test's (or benchmark's) cleanup stops it too, by its pid.
func startPinger(t testing.TB, ct *lab.Container, dst netip.Addr, interval time.Duration, count int) *pinger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	p := &pinger{from: ct.Name, to: dst.String(), done: make(chan struct{})}
	argv := []string{"ping", "-D", "-n", "-i", strconv.FormatFloat(interval.Seconds(), 'f', 3, 64)}
	if count > 0 {
		argv = append(argv, "-W", "2", "-c", strconv.Itoa(count))
	}
	p.cmd = ct.Command(ctx, append(argv, dst.String())...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); cancel(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	return p
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// wait waits for a pinger of count echoes to exit (ping exits 1 when an echo
// was lost: the summary says it) and returns its summary.
func (p *pinger) wait(t *testing.T) (sent, recv int) {
	t.Helper()
	<-p.done
	m := pingSummary.FindStringSubmatch(p.output())
	if m == nil {
		t.Fatalf("ping %s -> %s: no summary in %q", p.from, p.to, p.output())
	}
	sent, _ = strconv.Atoi(m[1])
	recv, _ = strconv.Atoi(m[2])
	return sent, recv
}

// replies returns the replies so far.
func (p *pinger) replies() pingLog {
	return parsePing([]byte(p.out.String()))
}

// stop ends ping (by its pid) and returns its replies.
func (p *pinger) stop() pingLog {
	interrupt(p.cmd, p.done)
	return p.replies()
}

// pingLog is what a pinger saw: the time of each first reply, in order, and
// how many replies were duplicates.
type pingLog struct {
	at   []time.Time
	dups int
}

// parsePing reads ping -D's reply lines:
//
//	[1764769384.123456] 64 bytes from 172.17.32.3: icmp_seq=7 ttl=64 time=0.52 ms
//	[1764769384.133456] 64 bytes from 172.17.32.3: icmp_seq=7 ttl=64 time=0.61 ms (DUP!)
func parsePing(out []byte) pingLog {
	var l pingLog
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "[") || !strings.Contains(line, " bytes from ") {
			continue
		}
		if strings.HasSuffix(line, "(DUP!)") {
			l.dups++
			continue
		}
		stamp, _, _ := strings.Cut(line[1:], "]")
		sec, err := strconv.ParseFloat(stamp, 64)
		if err != nil {
			continue
		}
		l.at = append(l.at, time.Unix(0, int64(sec*1e9)))
	}
	return l
}

// gap returns the longest time without a reply that overlaps [from, to]: from
// the last reply before it (or from) to the next reply (or to).
func (l pingLog) gap(from, to time.Time) time.Duration {
	d, _ := l.longestGap(l.lastBefore(from), to)
	return d
}

// gapSince is gap counted from from itself, not from the last reply before it:
// after a cut that never recovered, the gap around the restore is then the time
// the restore took to bring the replies back, not the whole outage again.
func (l pingLog) gapSince(from, to time.Time) time.Duration {
	d, _ := l.longestGap(from, to)
	return d
}

// outageEnd returns the reply that ends the longest gap overlapping [from, to],
// counted as gap counts it, and whether that reply came before to.
func (l pingLog) outageEnd(from, to time.Time) (time.Time, bool) {
	_, end := l.longestGap(l.lastBefore(from), to)
	return end, !end.IsZero() && !end.After(to)
}

// longestGap returns the longest time without a reply from start on, among the
// gaps that begin before to, and the reply that ends it (zero while it is still
// open at to). A gap that begins before to runs to its next reply, even a later
// one.
func (l pingLog) longestGap(start, to time.Time) (time.Duration, time.Time) {
	var longest time.Duration
	var end time.Time
	prev := start
	for _, at := range l.at {
		if !at.After(prev) {
			continue
		}
		if d := at.Sub(prev); d > longest {
			longest, end = d, at
		}
		if at.After(to) {
			return longest, end
		}
		prev = at
	}
	if d := to.Sub(prev); d > longest {
		return d, time.Time{}
	}
	return longest, end
}

// lastBefore returns the last reply before t, or t if there is none.
func (l pingLog) lastBefore(t time.Time) time.Time {
	if i, _ := slices.BinarySearchFunc(l.at, t, time.Time.Compare); i > 0 {
		return l.at[i-1]
	}
	return t
}

// after reports whether a reply came after t.
func (l pingLog) after(t time.Time) bool { return len(l.at) > 0 && l.at[len(l.at)-1].After(t) }
