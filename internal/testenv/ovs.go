package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OVS is a private ovsdb-server and an ovs-vswitchd (userspace datapath only:
// no kernel module) running in a throwaway network namespace, with their
// sockets, pidfiles and logs in Dir.
type OVS struct {
	Dir string // run directory: db.sock, <bridge>.mgmt, ovsdb.log, vs.log
	NS  string // the network namespace ovs-vswitchd runs in
}

// StartOVS starts an OVS for the test and stops both daemons (by their pids)
// and deletes the namespace when it ends. It sets $OVS_RUNDIR to Dir for the
// test, so ovs-ofctl and ovs-appctl reach bridges by name (the test must not
// be parallel). It skips under -short and needs root and the Open vSwitch
// commands (see SkipOrFail).
func StartOVS(t testing.TB) *OVS {
	t.Helper()
	SkipShort(t, "root and a real ovs-vswitchd")
	RequireRoot(t, "network namespace, ovs-vswitchd with TUN")
	for _, bin := range []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"} {
		RequireBinary(t, bin, "openvswitch-switch")
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "tovs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	o := &OVS{Dir: dir}
	db := filepath.Join(dir, "conf.db")
	o.Run(t, "ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	o.Run(t, "ovsdb-server", db, "--remote=punix:"+dir+"/db.sock", "--pidfile="+dir+"/ovsdb.pid",
		"--unixctl="+dir+"/ovsdb.ctl", "--detach", "--log-file="+dir+"/ovsdb.log")
	t.Cleanup(func() { stopPidfile(t, dir+"/ovsdb.pid") })
	o.NS = NewNetNS(t, "tovs")
	o.Run(t, "ip", "netns", "exec", o.NS, "env", "OVS_RUNDIR="+dir, "ovs-vswitchd", o.DB(),
		"--pidfile="+dir+"/vs.pid", "--unixctl="+dir+"/vs.ctl", "--detach", "--log-file="+dir+"/vs.log")
	t.Cleanup(func() { stopPidfile(t, dir+"/vs.pid") })
	o.Run(t, "ovs-vsctl", "--db="+o.DB(), "--timeout=30", "init")
	t.Setenv("OVS_RUNDIR", dir)
	return o
}

// DB is the ovsdb-server's socket as an OVSDB endpoint (unix:PATH).
func (o *OVS) DB() string { return "unix:" + o.Dir + "/db.sock" }

// Run runs argv with $OVS_RUNDIR set to Dir and fails the test on error,
// giving the command line and its output.
func (o *OVS) Run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := o.Exec(argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Exec runs argv with $OVS_RUNDIR set to Dir; its error carries the command
// line and its output.
func (o *OVS) Exec(argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+o.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", errors.New(strings.Join(argv, " ") + ": " + err.Error() + ": " + string(out))
	}
	return string(out), nil
}

// stopPidfile stops the daemon of a pidfile by its pid and waits up to 5s for
// it to exit, then kills it.
func stopPidfile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("stop daemon: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Errorf("stop daemon: bad pidfile %s: %q", path, b)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
