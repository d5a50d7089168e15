package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Readiness under systemd (Type=notify): the loop tells systemd READY=1 only
// after a pass succeeded, so Docker, ordered after ovsmesh, starts with daemon.json
// written and docker0 built. The test plays systemd: it listens on a unix
// datagram socket and passes its path in NOTIFY_SOCKET.

// notifyMsg is one datagram from the loop and what the host looked like when it
// arrived.
type notifyMsg struct {
	at    time.Time
	text  string
	state string // for READY=1: daemon.json and docker0 at that moment
}

// notifySocket is the test's end of NOTIFY_SOCKET.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []notifyMsg
}

// listenNotify listens on a socket in a temporary directory; onReady runs when a
// READY=1 arrives, before the next datagram is read, and says what it saw.
func listenNotify(t *testing.T, onReady func() string) *notifySocket {
	t.Helper()
	s := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed by the cleanup
			}
			m := notifyMsg{at: time.Now(), text: string(buf[:n])}
			if strings.Contains(m.text, "READY=1") {
				m.state = onReady()
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *notifySocket) messages() []notifyMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notifyMsg(nil), s.msgs...)
}

// find returns the first message containing text.
func (s *notifySocket) find(text string) (notifyMsg, bool) {
	for _, m := range s.messages() {
		if strings.Contains(m.text, text) {
			return m, true
		}
	}
	return notifyMsg{}, false
}

// readyState describes daemon.json and docker0 on host: "" when both are as the
// plan wants, else what is missing.
func readyState(c *cluster, host string) string {
	plan := c.plan(host)
	var problems []string
	data, err := os.ReadFile(filepath.Join(c.dir, host, "daemon.json"))
	var dj map[string]any
	if err == nil {
		err = json.Unmarshal(data, &dj)
	}
	// docker0 is named by bip, the planned gateway address.
	if err != nil || dj["bip"] != plan.Docker.Address.String() || dj["fixed-cidr"] != plan.Docker.FixedCIDR.String() {
		problems = append(problems, "daemon.json: "+strings.TrimSpace(string(data)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.host(host).Run(ctx, "ip", "-d", "-4", "addr", "show", "dev", "docker0")
	if err != nil || !strings.Contains(out, "bridge ") || !strings.Contains(out, plan.Docker.Address.String()) {
		problems = append(problems, "docker0: "+strings.TrimSpace(out))
	}
	return strings.Join(problems, "; ")
}

// TestLoopNotifiesSystemdWhenReady: while the first passes fail (docker0 is taken
// by a link of another type) the loop sends STATUS= lines saying why but no
// READY=1; once a pass succeeds READY=1 comes, with daemon.json written and
// docker0 built; SIGTERM sends STOPPING=1.
func TestLoopNotifiesSystemdWhenReady(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	c.mustApply("docker2")
	hostRun(t, c, "docker1", "ip", "link", "add", "docker0", "type", "veth", "peer", "name", "d0peer")
	sock := listenNotify(t, func() string { return readyState(c, "docker1") })
	p := launchLoop(t, c, "docker1", loopOpts{notify: sock.path})

	// Three intervals of failing passes: status lines, no READY.
	_, ok := poll(20*time.Second, func() bool {
		_, ok := sock.find("STATUS=not ready")
		return ok || !p.alive()
	})
	p.mustBeAlive(t)
	if !ok {
		t.Fatalf("no STATUS=not ready... within 20s; messages: %q", joinTexts(sock.messages()))
	}
	time.Sleep(3 * loopInterval)
	if m, ok := sock.find("READY=1"); ok {
		t.Fatalf("READY=1 while docker0 is a veth: %q", m.text)
	}
	m, _ := sock.find("STATUS=not ready")
	if !strings.Contains(m.text, "docker0") {
		t.Errorf("status while failing %q does not name docker0", m.text)
	}
	t.Logf("while failing: %d messages, e.g. %q", len(sock.messages()), m.text)

	hostRun(t, c, "docker1", "ip", "link", "del", "docker0")
	fixed := time.Now()
	took, ok := poll(30*time.Second, func() bool { _, ok := sock.find("READY=1"); return ok })
	if !ok {
		t.Fatalf("no READY=1 within %v of fixing docker0; messages: %q", took, joinTexts(sock.messages()))
	}
	ready, _ := sock.find("READY=1")
	t.Logf("READY=1 %v after docker0 was freed: %q", ready.at.Sub(fixed).Round(time.Millisecond), ready.text)
	if ready.state != "" {
		t.Errorf("READY=1 came before the host was ready: %s", ready.state)
	}
	if !strings.Contains(ready.text, "STATUS=converged: 1 tunnels") {
		t.Errorf("READY message %q, want STATUS=converged: 1 tunnels with it", ready.text)
	}

	_ = p.terminate(t, 5*time.Second) // this test is about the messages, not the exit status
	if _, ok := poll(2*time.Second, func() bool { _, ok := sock.find("STOPPING=1"); return ok }); !ok {
		t.Errorf("no STOPPING=1 after SIGTERM; messages: %q", joinTexts(sock.messages()))
	}
	if n := strings.Count(joinTexts(sock.messages()), "READY=1"); n != 1 {
		t.Errorf("READY=1 sent %d times, want once", n)
	}
}

func joinTexts(ms []notifyMsg) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.text)
	}
	return b.String()
}

// TestLoopWaitsForOVSDBAtStart: started while ovsdb-server is down, the loop
// does not exit (systemd would count the start as failed and let Docker start):
// it says why it is not ready, waits, and is ready once the server is up and a
// pass succeeded.
func TestLoopWaitsForOVSDBAtStart(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 2))
	h := c.host("docker1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.StopOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	sock := listenNotify(t, func() string { return readyState(c, "docker1") })
	p := launchLoop(t, c, "docker1", loopOpts{notify: sock.path})
	_, ok := poll(20*time.Second, func() bool {
		_, ok := sock.find("STATUS=not ready: waiting for ovsdb-server")
		return ok || !p.alive()
	})
	p.mustBeAlive(t)
	if !ok {
		t.Fatalf("no STATUS=not ready: waiting for ovsdb-server within 20s; messages: %q", joinTexts(sock.messages()))
	}
	time.Sleep(2 * loopInterval)
	p.mustBeAlive(t)
	if m, ok := sock.find("READY=1"); ok {
		t.Fatalf("READY=1 while ovsdb-server is down: %q", m.text)
	}
	if err := h.StartOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	took, ok := poll(30*time.Second, func() bool { _, ok := sock.find("READY=1"); return ok })
	if !ok {
		t.Fatalf("no READY=1 within %v of starting ovsdb-server; messages: %q", took, joinTexts(sock.messages()))
	}
	ready, _ := sock.find("READY=1")
	t.Logf("READY=1 %v after ovsdb-server started: %q", ready.at.Sub(started).Round(time.Millisecond), ready.text)
	if ready.state != "" {
		t.Errorf("READY=1 came before the host was ready: %s", ready.state)
	}
	if err := p.terminate(t, 5*time.Second); err != nil {
		t.Errorf("loop exited with %v after SIGTERM", err)
	}
}
