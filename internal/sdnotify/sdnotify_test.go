package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen opens a unixgram socket as systemd does and returns a function that reads
// the next datagram.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read the notify socket: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotifyPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	read := listen(t, path)
	n, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Notify(Ready, Status("converged: %d tunnels", 3)); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "READY=1\nSTATUS=converged: 3 tunnels\n"; got != want {
		t.Errorf("datagram %q, want %q", got, want)
	}
	// A STATUS value with a newline stays one assignment.
	if err := n.Notify(Status("last pass failed: a\nb")); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "STATUS=last pass failed: a b\n"; got != want {
		t.Errorf("datagram %q, want %q", got, want)
	}
	if err := n.Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "STOPPING=1\n" {
		t.Errorf("datagram %q, want STOPPING=1", got)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@ovsmesh-sdnotify-test-%d", os.Getpid())
	read := listen(t, name)
	t.Setenv(Env, name)
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if n == nil {
		t.Fatalf("FromEnv with %s=%s gave no notifier", Env, name)
	}
	defer n.Close()
	if err := n.Notify(Ready); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "READY=1\n" {
		t.Errorf("datagram %q, want READY=1", got)
	}
}

// A socket that goes away and comes back (systemd re-executed itself) is dialed
// again on the next message.
func TestNotifyRedials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := New(path)
	defer n.Close()
	if err := n.Notify(Status("one")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	os.Remove(path)
	if err := n.Notify(Status("lost")); err == nil {
		t.Errorf("Notify to a removed socket: no error")
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the socket %s", err, path)
	}
	read := listen(t, path)
	if err := n.Notify(Status("two")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "STATUS=two\n" {
		t.Errorf("datagram %q, want STATUS=two", got)
	}
}

func TestNotifyOff(t *testing.T) {
	t.Setenv(Env, "")
	n, err := FromEnv()
	if err != nil || n != nil {
		t.Fatalf("FromEnv without %s: %v, %v; want nil, nil", Env, n, err)
	}
	if err := n.Notify(Ready); err != nil {
		t.Errorf("nil Notifier: %v", err)
	}
	if _, err := New("relative/path"); err == nil {
		t.Errorf("New(relative path): no error")
	}
}
