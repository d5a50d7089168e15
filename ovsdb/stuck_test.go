package ovsdb

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// TestStuckServer: an ovsdb-server stopped with SIGSTOP keeps its socket open
// and answers nothing. A transaction gives up after the call timeout, even
// with a caller's context that has no deadline; the echo probe then drops the
// connection, so later calls fail at once as "not connected"; Close does not
// wait for a reconnection attempt; after SIGCONT the client is back by itself.
func TestStuckServer(t *testing.T) {
	testenv.SkipShort(t, "root, Open vSwitch and network namespaces")
	h := lab.NewT(t, lab.HostSpec{Name: "docker1"}).Host("docker1")
	c := connect(t, h.DB(), WithCallTimeout(2*time.Second))
	ctx := context.Background()
	if _, err := c.Apply(ctx, greState(2), false); err != nil {
		t.Fatal(err)
	}
	pid, _ := h.Pids()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	stopped := time.Now()

	start := time.Now()
	_, err := c.Apply(ctx, greState(2, 3), false)
	took := time.Since(start)
	t.Logf("apply with a change against the stopped server: %v after %v", err, took.Round(time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("apply against a stopped server: %v, want the call timeout", err)
	}
	if took > 6*time.Second {
		t.Errorf("apply took %v with a 2 s call timeout", took)
	}

	// The probe (5 s idle, 5 s for the echo) notices the dead server.
	var u interface{ Unavailable() bool }
	deadline := time.Now().Add(20 * time.Second)
	for {
		start := time.Now()
		_, err := c.Apply(ctx, greState(2, 3), false)
		if errors.As(err, &u) && u.Unavailable() {
			t.Logf("not connected %v after SIGSTOP; that apply took %v: %v", time.Since(stopped).Round(time.Millisecond),
				time.Since(start).Round(time.Millisecond), err)
			if time.Since(start) > 3*time.Second {
				t.Errorf("an apply while not connected took %v", time.Since(start))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not noticed 20s after SIGSTOP: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	resume()
	back := time.Now()
	for {
		_, err := c.Apply(ctx, greState(2, 3), false)
		if err == nil {
			t.Logf("applied %v after SIGCONT", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Since(back) > 20*time.Second {
			t.Fatalf("not applied within 20s of SIGCONT: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lines, err := c.Apply(ctx, greState(2, 3), false); err != nil || len(lines) > 0 {
		t.Errorf("apply after recovery: %q, %v; want nothing to do", lines, err)
	}

	// Close while a reconnection attempt waits on a stopped server.
	c2 := connect(t, h.DB())
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed = false
	time.Sleep(12 * time.Second) // the probe fires and a reconnection attempt starts
	start = time.Now()
	c2.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close during a reconnection attempt took %v", d)
	} else {
		t.Logf("Close during a reconnection attempt took %v", d.Round(time.Millisecond))
	}
	resume()
}
