// Package sdnotify tells systemd about the service's state (sd_notify(3)): one
// datagram per message to the unix socket named by $NOTIFY_SOCKET, such as
// "READY=1", "STATUS=converged: 3 tunnels" or "STOPPING=1". It uses only the
// standard library and imports no ovsmesh package.
//
// Outside systemd (no $NOTIFY_SOCKET) a Notifier does nothing, so the same binary
// runs under Type=notify, Type=simple or by hand.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Env is the environment variable systemd sets for a Type=notify service.
const Env = "NOTIFY_SOCKET"

// writeTimeout bounds one datagram: a full socket buffer (systemd not reading)
// must not hold the reconcile loop.
const writeTimeout = time.Second

// Notifier sends state messages to systemd. The zero value and nil do nothing. It
// is safe for concurrent use.
type Notifier struct {
	mu   sync.Mutex
	addr *net.UnixAddr
	conn *net.UnixConn
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET, or nil when it is not set. An
// address starting with '@' names an abstract socket. The variable is left in the
// environment: the child processes ovsmesh runs (ovs-ofctl) do not notify.
func FromEnv() (*Notifier, error) {
	return New(os.Getenv(Env))
}

// New returns a Notifier for the socket at path ("" gives nil: notifications off).
func New(path string) (*Notifier, error) {
	switch {
	case path == "":
		return nil, nil
	case !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "@"):
		// systemd also passes vsock:CID:PORT; ovsmesh does not run in such VMs.
		return nil, fmt.Errorf("%s=%q: want an absolute path or an abstract name starting with '@'", Env, path)
	}
	// Go's net package maps a leading '@' to the abstract namespace (a NUL byte).
	return &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}, nil
}

// Notify sends one message made of the given lines, e.g. Notify("READY=1",
// "STATUS=converged"). Newlines inside a STATUS value are replaced by spaces:
// systemd reads one assignment per line. On a nil Notifier it does nothing.
func (n *Notifier) Notify(lines ...string) error {
	if n == nil || len(lines) == 0 {
		return nil
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.ReplaceAll(l, "\n", " "))
		b.WriteByte('\n')
	}
	msg := []byte(b.String())
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, n.addr)
		if err != nil {
			return fmt.Errorf("connect to systemd's notify socket %s: %w", n.addr.Name, err)
		}
		n.conn = c
	}
	_ = n.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := n.conn.Write(msg); err != nil {
		// The socket may have been re-created (systemd re-executed): dial anew next time.
		_ = n.conn.Close()
		n.conn = nil
		return fmt.Errorf("send %q to systemd's notify socket %s: %w", lines[0], n.addr.Name, err)
	}
	return nil
}

// Close releases the socket. Later Notify calls open it again.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// Status formats a STATUS= line: systemctl status shows it.
func Status(format string, args ...any) string {
	return "STATUS=" + fmt.Sprintf(format, args...)
}

// Messages systemd understands (see sd_notify(3)).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
)
