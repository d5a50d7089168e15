package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a TCP echo server and client run inside lab
// namespaces (Container.Command), so TCP checks need no extra tools.
const (
	helperEnv = "OVSMESH_LAB_TEST_HELPER"
	helperArg = "OVSMESH_LAB_TEST_ADDR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "echo-server":
		if err := echoServer(os.Getenv(helperArg)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "echo-client":
		if err := echoClient(os.Getenv(helperArg)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

func echoServer(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(c, c)
	return err
}

func echoClient(addr string) error {
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, 1<<20)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("read: %w (got %d bytes)", err, len(got))
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echo differs: sent %d bytes, got %d", len(data), len(got))
	}
	return nil
}

func short(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end lab test; skipped with -short")
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// overlay is what `ovsmesh apply` will do on host i (1-based), done by hand
// with ovs-vsctl and ip for these tests: a netdev bridge br0 with one tunnel
// port to remote, and docker0 with address 172.17.0.<i>/16 holding br0.
func overlay(t *testing.T, ctx context.Context, h *Host, i int, remote netip.Addr, typ string, mtu int, opts ...string) {
	t.Helper()
	vsctl := []string{"ovs-vsctl", "--timeout=30", // db from OVS_RUNDIR in Env()
		"add-br", "br0", "--", "set", "Bridge", "br0", "datapath_type=netdev",
		"--", "set", "Interface", "br0", fmt.Sprintf("mtu_request=%d", mtu),
		"--", "add-port", "br0", "tun0", "--", "set", "Interface", "tun0", "type=" + typ, "options:remote_ip=" + remote.String()}
	vsctl = append(vsctl, opts...)
	m := fmt.Sprint(mtu)
	for _, argv := range [][]string{
		vsctl,
		{"ip", "link", "add", "docker0", "mtu", m, "type", "bridge"},
		{"ip", "addr", "add", fmt.Sprintf("172.17.0.%d/16", i), "dev", "docker0"},
		{"ip", "link", "set", "br0", "master", "docker0", "up"},
		{"ip", "link", "set", "docker0", "up"},
	} {
		if _, err := h.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
}

// eventually retries f for up to d.
func eventually(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// twoHostOverlay builds a 2-host lab with a tunnel of type typ between the
// hosts and one container on each.
func twoHostOverlay(t *testing.T, typ string, mtu int, opts ...string) (*Lab, *Container, *Container) {
	ctx := testCtx(t)
	start := time.Now()
	l := NewT(t, HostSpec{Name: "docker1"}, HostSpec{Name: "docker2"})
	t.Logf("New: %v", time.Since(start))
	h1, h2 := l.Host("docker1"), l.Host("docker2")
	overlay(t, ctx, h1, 1, h2.Underlay, typ, mtu, opts...)
	overlay(t, ctx, h2, 2, h1.Underlay, typ, mtu, opts...)
	c1, err := h1.AddContainer(ctx, "c1", netip.MustParsePrefix("172.17.64.2/16"), netip.MustParseAddr("172.17.0.1"), mtu)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h2.AddContainer(ctx, "c2", netip.MustParsePrefix("172.17.128.2/16"), netip.MustParseAddr("172.17.0.2"), mtu)
	if err != nil {
		t.Fatal(err)
	}
	return l, c1, c2
}

// checkMTU asserts that c1 reaches c2 with full-size DF pings at the overlay
// MTU and not one byte more.
func checkMTU(t *testing.T, ctx context.Context, c1, c2 *Container, mtu int) {
	t.Helper()
	dst := c2.Addr.Addr()
	if err := eventually(ctx, 10*time.Second, func() error { return c1.Ping(ctx, dst, 0, false) }); err != nil {
		t.Fatal(err)
	}
	max := mtu - 28 // IPv4 + ICMP headers
	if err := eventually(ctx, 3*time.Second, func() error { return c1.Ping(ctx, dst, max, true) }); err != nil {
		t.Errorf("DF ping with the largest payload %d: %v", max, err)
	}
	if err := c1.Ping(ctx, dst, max+1, true); err == nil {
		t.Errorf("DF ping with payload %d > MTU %d - 28 passed", max+1, mtu)
	} else {
		t.Logf("payload %d fails as expected: %v", max+1, err)
	}
}

func checkTCP(t *testing.T, ctx context.Context, client, server *Container) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(server.Addr.Addr().String(), "5000")
	srv := server.Command(ctx, exe)
	srv.Env = append(os.Environ(), helperEnv+"=echo-server", helperArg+"="+addr)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	cli := client.Command(ctx, exe)
	cli.Env = append(os.Environ(), helperEnv+"=echo-client", helperArg+"="+addr)
	out, cerr := cli.CombinedOutput()
	serr := srv.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("TCP echo of 1 MiB %s -> %s: client: %v: %s; server: %v: %s", client.Name, addr, cerr, out, serr, srvOut.String())
	}
}

func dumpFlows(ctx context.Context, h *Host) string {
	out, err := h.Run(ctx, "ovs-appctl", "-t", "ovs-vswitchd", "dpctl/dump-flows")
	if err != nil {
		return err.Error()
	}
	return out
}

func TestGRE(t *testing.T) {
	short(t)
	t.Parallel()
	ctx := testCtx(t)
	const mtu = 1462 // 1500 - 20 (outer IPv4) - 4 (GRE) - 14 (inner Ethernet)
	l, c1, c2 := twoHostOverlay(t, "gre", mtu)
	checkMTU(t, ctx, c1, c2, mtu)
	if f := dumpFlows(ctx, l.Host("docker1")); !strings.Contains(f, "tnl_push") {
		t.Errorf("no tnl_push datapath flow on docker1, is the tunnel in use?\n%s", f)
	}
	checkTCP(t, ctx, c1, c2)
}

func TestVXLAN(t *testing.T) {
	short(t)
	t.Parallel()
	ctx := testCtx(t)
	// 1500 - 20 (outer IPv4) - 8 (UDP) - 8 (VXLAN) - 14 (inner Ethernet).
	// At 1462, DF pings between 1423 and 1434 bytes vanish silently.
	const mtu = 1450
	l, c1, c2 := twoHostOverlay(t, "vxlan", mtu, "options:dst_port=4790")
	checkMTU(t, ctx, c1, c2, mtu)
	if f := dumpFlows(ctx, l.Host("docker1")); !strings.Contains(f, "tnl_push") || !strings.Contains(f, "dst=4790") {
		t.Errorf("no tnl_push to UDP port 4790 on docker1\n%s", f)
	}
	checkTCP(t, ctx, c2, c1)
}

// TestFaults checks the fault helpers: the overlay recovers after
// ovs-vswitchd restarts and while and after ovsdb-server is down.
func TestFaults(t *testing.T) {
	short(t)
	t.Parallel()
	ctx := testCtx(t)
	const mtu = 1462
	l, c1, c2 := twoHostOverlay(t, "gre", mtu)
	h1 := l.Host("docker1")
	ping := func(what string) {
		t.Helper()
		if err := eventually(ctx, 10*time.Second, func() error { return c1.Ping(ctx, c2.Addr.Addr(), 0, false) }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ping("before")
	_, oldV := h1.Pids()
	start := time.Now()
	if err := h1.RestartVSwitchd(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("RestartVSwitchd: %v", time.Since(start))
	if _, newV := h1.Pids(); newV == oldV || (proc{PID: oldV, Comm: "ovs-vswitchd"}).running() {
		t.Errorf("ovs-vswitchd pid %d -> %d: not restarted", oldV, newV)
	}
	ping("after RestartVSwitchd")
	if err := h1.StopOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	// The userspace datapath does not forward without ovsdb-server (see
	// StopOVSDB); just record what happens.
	t.Logf("ping with ovsdb-server stopped: %v", c1.Ping(ctx, c2.Addr.Addr(), 0, false))
	start = time.Now()
	if err := h1.StartOVSDB(ctx); err != nil {
		t.Fatal(err)
	}
	// Without --no-wait, ovs-vsctl waits for ovs-vswitchd to apply the
	// change: proof that it reconnected.
	if _, err := h1.Run(ctx, "ovs-vsctl", "--timeout=20", "add-port", "br0", "dummy0", "--", "set", "Interface", "dummy0", "type=internal"); err != nil {
		t.Fatalf("ovs-vswitchd did not reconnect to ovsdb-server: %v", err)
	}
	ping("after StartOVSDB")
	t.Logf("StartOVSDB to working overlay: %v", time.Since(start))
}

func TestAddContainerNeedsDocker0(t *testing.T) {
	short(t)
	l := NewT(t, HostSpec{Name: "docker1"})
	_, err := l.Host("docker1").AddContainer(testCtx(t), "c1", netip.MustParsePrefix("172.17.64.2/16"), netip.MustParseAddr("172.17.0.1"), 1462)
	if err == nil || !strings.Contains(err.Error(), "docker0") {
		t.Fatalf("AddContainer without docker0: got %v, want an error naming docker0", err)
	}
	t.Log(err)
	if nss, _ := labNamespaces(l.ID); len(nss) != 2 {
		t.Errorf("namespaces after failed AddContainer: %v, want host and underlay only", nss)
	}
}

// TestClose checks that Close kills every process and deletes every
// namespace and file, including a process the test left in a container.
func TestClose(t *testing.T) {
	short(t)
	RequireRoot(t)
	RequireBinaries(t)
	ctx := testCtx(t)
	l, err := New(ctx, []HostSpec{{Name: "docker1"}, {Name: "docker2"}}, WithLogf(t.Logf))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			l.Close()
		}
	})
	h1 := l.Host("docker1")
	overlay(t, ctx, h1, 1, l.Host("docker2").Underlay, "gre", 1462)
	c, err := h1.AddContainer(ctx, "c1", netip.MustParsePrefix("172.17.64.2/16"), netip.MustParseAddr("172.17.0.1"), 1462)
	if err != nil {
		t.Fatal(err)
	}
	stray := c.Command(context.WithoutCancel(ctx), "sleep", "300")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	strayDone := make(chan error, 1)
	go func() { strayDone <- stray.Wait() }()

	var pids []proc
	for _, h := range l.Hosts() {
		o, v := h.Pids()
		pids = append(pids, proc{PID: o, Comm: "ovsdb-server"}, proc{PID: v, Comm: "ovs-vswitchd"})
	}
	for _, p := range pids {
		if !p.running() {
			t.Fatalf("%s not running before Close", p)
		}
	}
	nss, _ := labNamespaces(l.ID)
	if len(nss) != 4 {
		t.Errorf("namespaces %v, want 4", nss)
	}

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	t.Logf("Close: %v", time.Since(start))
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	out, err := run(ctx, nil, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, l.ID) {
		t.Errorf("namespaces of %s left after Close:\n%s", l.ID, out)
	}
	for _, p := range pids {
		if p.running() {
			t.Errorf("%s still running after Close", p)
		}
	}
	select {
	case err := <-strayDone:
		t.Logf("stray process in container: %v", err)
	case <-time.After(5 * time.Second):
		t.Errorf("stray process %d in the container survived Close", stray.Process.Pid)
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab dir %s: %v, want it removed", l.Dir, err)
	}
	if ps := processesMentioning(l.Dir); len(ps) > 0 {
		t.Errorf("processes mentioning %s after Close: %v", l.Dir, ps)
	}
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) && (proc{PID: pid}).running() {
			out = append(out, pid)
		}
	}
	return out
}

// TestNewFailsHalfway checks that New tears down what it built when it
// fails in the middle.
func TestNewFailsHalfway(t *testing.T) {
	short(t)
	RequireRoot(t)
	RequireBinaries(t)
	// Make the context expire at different points of New.
	for _, d := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		l, err := New(ctx, []HostSpec{{Name: "docker1"}, {Name: "docker2"}, {Name: "docker3"}})
		cancel()
		if err == nil {
			l.Close()
			t.Logf("New finished within %v", d)
			continue
		}
		t.Logf("New with %v: %v", d, err)
		id := regexp.MustCompile(`lab (om[0-9a-f]{6})`).FindStringSubmatch(err.Error())
		if id == nil {
			t.Fatalf("error does not name the lab: %v", err)
		}
		if nss, _ := labNamespaces(id[1]); len(nss) > 0 {
			t.Errorf("namespaces left: %v", nss)
		}
		dir := filepath.Join(os.TempDir(), dirPrefix+id[1])
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dir %s left: %v", dir, err)
		}
		if ps := processesMentioning(dir); len(ps) > 0 {
			t.Errorf("processes left: %v", ps)
		}
	}
}

// TestSweep checks that Sweep removes a lab whose owner is gone and leaves
// alone a lab whose owner runs and a kept lab. (Sweep acts on every lab on the
// machine; unforced it only removes real leftovers.)
func TestSweep(t *testing.T) {
	short(t)
	live := NewT(t, HostSpec{Name: "docker1"})
	ctx := testCtx(t)
	dead, err := New(ctx, []HostSpec{{Name: "docker1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	// Pretend the process that built it was killed.
	dead.owner = Owner{PID: 1 << 30}
	if err := dead.saveState(); err != nil {
		t.Fatal(err)
	}
	o, v := dead.Host("docker1").Pids()
	kept, err := New(ctx, []HostSpec{{Name: "docker1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kept.Close() })
	if err := kept.Keep(); err != nil {
		t.Fatal(err)
	}
	removed, err := Sweep(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("swept %v", removed)
	if !slices.Contains(removed, dead.ID) || slices.Contains(removed, live.ID) || slices.Contains(removed, kept.ID) {
		t.Errorf("swept %v, want %s and neither %s (live) nor %s (kept)", removed, dead.ID, live.ID, kept.ID)
	}
	if nss, _ := labNamespaces(kept.ID); len(nss) != 2 {
		t.Errorf("kept lab's namespaces: %v", nss)
	}
	if nss, _ := labNamespaces(dead.ID); len(nss) > 0 {
		t.Errorf("namespaces left: %v", nss)
	}
	for _, p := range []proc{{PID: o, Comm: "ovsdb-server"}, {PID: v, Comm: "ovs-vswitchd"}} {
		if p.running() {
			t.Errorf("%s survived Sweep", p)
		}
	}
	if nss, _ := labNamespaces(live.ID); len(nss) != 2 {
		t.Errorf("live lab's namespaces: %v", nss)
	}
	if err := live.Host("docker1").StopVSwitchd(ctx); err != nil {
		t.Errorf("live lab broken: %v", err)
	}
}

func TestRestore(t *testing.T) {
	short(t)
	l := NewT(t, HostSpec{Name: "docker1"})
	path := filepath.Join(t.TempDir(), "state.json")
	if err := WriteState(path, l.State()); err != nil {
		t.Fatal(err)
	}
	s, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.State(), l.State(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored state\n%+v\nwant\n%+v", got, want)
	}
	bad := s
	bad.Dir = "/"
	if _, err := Restore(bad); err == nil {
		t.Error("Restore accepted Dir=/")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if nss, _ := labNamespaces(l.ID); len(nss) > 0 {
		t.Errorf("namespaces left after Close of restored lab: %v", nss)
	}
}

func TestNormalize(t *testing.T) {
	for _, hs := range [][]HostSpec{
		nil,
		{{Name: ""}},
		{{Name: "a b"}},
		{{Name: "ul"}},
		{{Name: "a"}, {Name: "a"}},
		{{Name: "a", Underlay: netip.MustParsePrefix("10.0.0.1/24")}, {Name: "b", Underlay: netip.MustParsePrefix("10.0.0.1/24")}},
	} {
		if _, err := normalize(hs); err == nil {
			t.Errorf("normalize(%v): no error", hs)
		}
	}
	got, err := normalize([]HostSpec{{Name: "docker1"}, {Name: "docker2", Underlay: netip.MustParsePrefix("fd00::2/64")}, {Name: "docker3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Underlay.String() != "198.18.0.1/24" || got[1].Underlay.String() != "fd00::2/64" || got[2].Underlay.String() != "198.18.0.3/24" {
		t.Errorf("normalize: %v", got)
	}
}
