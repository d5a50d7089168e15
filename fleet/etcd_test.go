package fleet

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// testEtcd is one etcd server on loopback for the whole package, started by
// TestMain on free ports with its own data directory, and stopped by its pid.
var testEtcd struct {
	url  string
	cmd  *exec.Cmd
	dir  string
	err  error
	next atomic.Int64
}

func TestMain(m *testing.M) {
	startEtcd()
	code := m.Run()
	stopEtcd()
	os.Exit(code)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd() {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		testEtcd.err = fmt.Errorf("etcd not installed (apt-get install etcd-server): %w", err)
		return
	}
	dir, err := os.MkdirTemp("", "ovsmesh-fleet-etcd-")
	if err != nil {
		testEtcd.err = err
		return
	}
	testEtcd.dir = dir
	cp, err1 := freePort()
	pp, err2 := freePort()
	if err1 != nil || err2 != nil {
		testEtcd.err = fmt.Errorf("find free ports: %v %v", err1, err2)
		return
	}
	testEtcd.url = fmt.Sprintf("http://127.0.0.1:%d", cp)
	peer := fmt.Sprintf("http://127.0.0.1:%d", pp)
	cmd := exec.Command(bin, "--name", "t", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", testEtcd.url, "--advertise-client-urls", testEtcd.url,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "t="+peer, "--heartbeat-interval", "50", "--election-timeout", "500")
	log, _ := os.Create(filepath.Join(dir, "etcd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	// A test binary that panics skips TestMain's cleanup: etcd dies with it.
	// (No test here locks OS threads, whose exit would fire the signal early.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		testEtcd.err = err
		return
	}
	testEtcd.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(testEtcd.url, "http://"), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	testEtcd.err = fmt.Errorf("etcd did not listen on %s within 20s", testEtcd.url)
}

func stopEtcd() {
	if testEtcd.cmd != nil {
		_ = testEtcd.cmd.Process.Kill()
		_ = testEtcd.cmd.Wait()
	}
	if testEtcd.dir != "" {
		os.RemoveAll(testEtcd.dir)
	}
}

// newTestClient connects to the package's etcd under a fresh cluster name. It
// skips the test when etcd is not installed, unless CI=true.
func newTestClient(t *testing.T) *Client {
	t.Helper()
	if testEtcd.err != nil {
		testenv.SkipOrFail(t, "%v", testEtcd.err)
	}
	name := fmt.Sprintf("t%d-%s", testEtcd.next.Add(1), strings.ReplaceAll(t.Name(), "/", "-"))
	c, err := Connect(Config{Endpoints: []string{testEtcd.url}, Insecure: true, Cluster: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// labNetwork is a network the tests seed: a /16 cut into /24 slices.
func labNetwork() map[string]any {
	return map[string]any{"encap": "vxlan", "subnet": "172.30.0.0/16", "datapath": "netdev"}
}
