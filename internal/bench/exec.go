package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// waitDelay bounds how long a finished command may keep its output pipes open.
const waitDelay = 5 * time.Second

// nsHost runs commands inside a lab host's network namespace, the way they run on
// a real host: the child is forked from a thread that entered the namespace, so no
// `ip netns exec` (a mount namespace and a remount of /sys per command) is timed.
type nsHost struct {
	*lab.Host
	ns netns.NsHandle
}

func openHost(h *lab.Host) (*nsHost, error) {
	ns, err := netns.GetFromName(h.NS)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", h.NS, err)
	}
	return &nsHost{Host: h, ns: ns}, nil
}

func (h *nsHost) close() { h.ns.Close() }

// run runs argv in the namespace with the host's OVS environment and returns its
// combined output and its wall time, from fork to exit. The error names the
// command and carries the output.
func (h *nsHost) run(ctx context.Context, argv ...string) (string, time.Duration, error) {
	return h.runIn(ctx, nil, nil, argv...)
}

// runIn is run with extra environment variables and a standard input.
func (h *nsHost) runIn(ctx context.Context, env []string, stdin io.Reader, argv ...string) (string, time.Duration, error) {
	if len(argv) == 0 {
		return "", 0, fmt.Errorf("host %s: run: empty command", h.Name)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), h.Env()...), env...)
	cmd.Stdin = stdin
	cmd.WaitDelay = waitDelay
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start, err := h.start(cmd)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	err = cmd.Wait()
	d := time.Since(start)
	if err != nil {
		return out.String(), d, fmt.Errorf("%s: %w: %s", shortArgv(argv), err, strings.TrimSpace(out.String()))
	}
	return out.String(), d, nil
}

// start starts cmd inside the namespace and returns when it did so.
func (h *nsHost) start(cmd *exec.Cmd) (time.Time, error) {
	type started struct {
		at  time.Time
		err error
	}
	ch := make(chan started, 1)
	go func() {
		// The thread enters the namespace and stays locked: Go ends the thread
		// with this goroutine, so nothing else ever runs in the namespace.
		runtime.LockOSThread()
		if err := netns.Set(h.ns); err != nil {
			ch <- started{err: fmt.Errorf("enter namespace %s: %w", h.NS, err)}
			return
		}
		at := time.Now()
		ch <- started{at, cmd.Start()}
	}()
	s := <-ch
	return s.at, s.err
}

// shortArgv abbreviates a long command line (the bulk ovs-vsctl) for errors.
func shortArgv(argv []string) string {
	s := strings.Join(argv, " ")
	if len(s) > 300 {
		s = s[:300] + fmt.Sprintf("… (%d arguments)", len(argv))
	}
	return s
}

// timingRunner is an openflow.Runner that runs ovs-ofctl inside the namespace and
// adds up the wall time of the processes it ran.
type timingRunner struct {
	h     *nsHost
	total time.Duration
	runs  int
}

func (r *timingRunner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	out, d, err := r.h.runIn(ctx, nil, stdin, append([]string{name}, args...)...)
	r.total += d
	r.runs++
	return []byte(out), err
}
