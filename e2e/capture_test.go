package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// capture is a tcpdump running in a container, counting the packets it sees.
type capture struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// startCapture starts tcpdump on the container's eth0 for packets it receives
// that match filter, and returns once tcpdump listens. stop ends it.
func startCapture(t *testing.T, ct *lab.Container, filter string) *capture {
	t.Helper()
	return startCaptureIn(t, ct.Name, ct.Command, filter)
}

// startCaptureIn is startCapture in the namespace command runs in (a
// container's or a host's Command), on its eth0.
func startCaptureIn(t *testing.T, name string, command func(context.Context, ...string) *exec.Cmd, filter string) *capture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c := &capture{done: make(chan struct{})}
	c.cmd = command(ctx, "tcpdump", "-i", "eth0", "-Q", "in", "-n", "-l", "-p", "--immediate-mode", filter)
	c.cmd.Stdout = &lockedWriter{c: c}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(ready)
			}
		}
		if !once {
			close(ready)
		}
	}()
	go func() { _ = c.cmd.Wait(); cancel(); close(c.done) }()
	t.Cleanup(func() { c.stop() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump in %s did not start", name)
	}
	return c
}

type lockedWriter struct{ c *capture }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.out.Write(p)
}

// stop ends tcpdump (by its pid) and returns the packet lines it printed.
func (c *capture) stop() []string {
	interrupt(c.cmd, c.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(c.out.String()), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// interrupt ends a started command with SIGINT (by its pid), so that it prints
// its summary, or SIGKILL after 5 s, and waits until done is closed.
func interrupt(cmd *exec.Cmd, done <-chan struct{}) {
	if cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGINT)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// icmpFrame returns an Ethernet broadcast frame carrying an ICMP echo request from
// src to dst with the given id, as hex for ovs-ofctl packet-out.
func icmpFrame(src, dst netip.Addr, id uint16) string {
	icmp := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'o', 'v', 's', 'm', 'e', 's', 'h', '!'}
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(icmp)))
	s, d := src.As4(), dst.As4()
	ip = append(append(ip, s[:]...), d[:]...)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	eth := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x99, 0x08, 0x00}
	return hex.EncodeToString(append(append(eth, ip...), icmp...))
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
