package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	termGrace = 3 * time.Second // SIGTERM → SIGKILL
	killGrace = 3 * time.Second // SIGKILL → give up
)

// proc identifies a process the lab started or found: the pid plus what must
// still be true of that pid for it to be the same process. An empty Comm or
// Marker is not checked.
type proc struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm,omitempty"`   // /proc/PID/comm, e.g. "ovs-vswitchd"
	Marker string `json:"marker,omitempty"` // substring of /proc/PID/cmdline, e.g. the run dir
	NetNS  string `json:"-"`                // name of the network namespace it must be in
}

// running reports whether p is alive and still the process it was recorded
// as. Zombies count as gone: they hold no resources and the lab cannot reap
// daemons that were reparented to init.
func (p proc) running() bool {
	if p.PID <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	if st := stat[i+2]; st == 'Z' || st == 'X' {
		return false
	}
	if p.Comm != "" {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID))
		if err != nil || strings.TrimSpace(string(comm)) != p.Comm {
			return false
		}
	}
	if p.Marker != "" {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
		if err != nil || !bytes.Contains(cmdline, []byte(p.Marker)) {
			return false
		}
	}
	if p.NetNS != "" && !sameNetNS(p.PID, p.NetNS) {
		return false
	}
	return true
}

// sameNetNS reports whether pid's network namespace is the named one.
func sameNetNS(pid int, ns string) bool {
	a, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return false
	}
	b, err := os.Stat("/run/netns/" + ns)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func (p proc) String() string {
	if p.Comm != "" {
		return fmt.Sprintf("%s[%d]", p.Comm, p.PID)
	}
	return fmt.Sprintf("pid %d", p.PID)
}

// kill stops p: SIGTERM, then SIGKILL after a grace period, and verifies that
// it is gone. Killing a process that is already gone is not an error.
func (p proc) kill() error { return p.killWithin(termGrace) }

// killWithin is kill with a grace period of d between SIGTERM and SIGKILL.
func (p proc) killWithin(d time.Duration) error {
	if !p.running() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill -TERM %s: %w", p, err)
	}
	if p.waitGone(d) {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill -KILL %s: %w", p, err)
	}
	if p.waitGone(killGrace) {
		return nil
	}
	return fmt.Errorf("%s still running %v after SIGKILL", p, killGrace)
}

func (p proc) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !p.running() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPidfile reads an OVS pidfile.
func readPidfile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile %s: bad content %q", path, b)
	}
	return pid, nil
}

// startTime returns the start time of pid in clock ticks since boot (field 22
// of /proc/PID/stat); together with the pid it identifies a process.
func startTime(pid int) (uint64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// Fields after ')' start at field 3 (state); starttime is field 22.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// netnsPIDs lists the processes in network namespace ns, like
// `ip netns pids`. A namespace that does not exist has none.
func netnsPIDs(ns string) ([]proc, error) {
	if _, err := os.Stat("/run/netns/" + ns); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if p := (proc{PID: pid, NetNS: ns}); p.running() {
			ps = append(ps, p)
		}
	}
	return ps, nil
}
