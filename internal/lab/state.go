package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// stateFile is the name of the state file in a lab's directory; Sweep reads
// the owner from it.
const stateFile = "lab.json"

// State describes a lab for tools and for tearing it down from another
// process (see Restore). It marshals to JSON.
type State struct {
	ID         string           `json:"id"`
	Dir        string           `json:"dir"`
	UnderlayNS string           `json:"underlay_ns"`
	Owner      Owner            `json:"owner"`
	Hosts      []HostState      `json:"hosts"`
	Containers []ContainerState `json:"containers,omitempty"`
}

// HostState describes a host.
type HostState struct {
	Name        string       `json:"name"`
	NS          string       `json:"ns"`
	RunDir      string       `json:"rundir"`
	DB          string       `json:"db"`
	Underlay    netip.Prefix `json:"underlay"`
	Env         []string     `json:"env"`
	OVSDBPID    int          `json:"ovsdb_pid,omitempty"`
	VSwitchdPID int          `json:"vswitchd_pid,omitempty"`
	DockerdPID  int          `json:"dockerd_pid,omitempty"`
	DockerHost  string       `json:"docker_host,omitempty"`
	ULPeer      string       `json:"underlay_peer"`
}

// ContainerState describes a container.
type ContainerState struct {
	Name     string       `json:"name"`
	Host     string       `json:"host"`
	NS       string       `json:"ns"`
	Addr     netip.Prefix `json:"addr"`
	GW       netip.Addr   `json:"gw,omitzero"`
	MTU      int          `json:"mtu,omitempty"`
	HostVeth string       `json:"host_veth"`
	Docker   bool         `json:"docker,omitempty"`
	MAC      string       `json:"mac,omitempty"`
	Network  string       `json:"network,omitempty"`
}

// State returns the lab's current state.
func (l *Lab) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stateLocked()
}

func (l *Lab) stateLocked() State {
	s := State{ID: l.ID, Dir: l.Dir, UnderlayNS: l.UnderlayNS, Owner: l.owner}
	for _, h := range l.hosts {
		h.mu.Lock()
		s.Hosts = append(s.Hosts, HostState{
			Name: h.Name, NS: h.NS, RunDir: h.RunDir, DB: h.DB(), Underlay: h.UnderlayPrefix, Env: h.Env(),
			OVSDBPID: h.ovsdb.PID, VSwitchdPID: h.vswitchd.PID, ULPeer: h.ulPeer,
		})
		if h.dockerd.PID > 0 {
			s.Hosts[len(s.Hosts)-1].DockerdPID = h.dockerd.PID
			s.Hosts[len(s.Hosts)-1].DockerHost = h.DockerHost()
		}
		h.mu.Unlock()
	}
	for _, c := range l.ctrs {
		s.Containers = append(s.Containers, ContainerState{
			Name: c.Name, Host: c.Host.Name, NS: c.NS, Addr: c.Addr, GW: c.GW, MTU: c.MTU, HostVeth: c.HostVeth,
			Docker: c.Docker, MAC: c.MAC, Network: c.Network,
		})
	}
	return s
}

// saveState writes the state to the lab's directory.
func (l *Lab) saveState() error {
	l.saveMu.Lock()
	defer l.saveMu.Unlock()
	s := l.State()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(l.Dir, stateFile)); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// Restore returns the lab described by s, built by New in this or another
// process, so that it can be used or closed. It checks that s names a lab
// directory but not that the lab still exists.
func Restore(s State) (*Lab, error) {
	if !idRE.MatchString(s.ID) {
		return nil, fmt.Errorf("lab: restore: bad lab ID %q", s.ID)
	}
	// Close removes Dir: never accept anything but a lab directory.
	if filepath.Base(s.Dir) != dirPrefix+s.ID || !filepath.IsAbs(s.Dir) || filepath.Clean(s.Dir) != s.Dir {
		return nil, fmt.Errorf("lab: restore: %q is not the directory of lab %s", s.Dir, s.ID)
	}
	if s.UnderlayNS != s.ID+"-ul" {
		return nil, fmt.Errorf("lab: restore: bad underlay namespace %q", s.UnderlayNS)
	}
	l := &Lab{ID: s.ID, Dir: s.Dir, UnderlayNS: s.UnderlayNS, owner: s.Owner, logf: func(string, ...any) {}}
	for _, hs := range s.Hosts {
		if !nameRE.MatchString(hs.Name) || hs.NS != s.ID+"-"+hs.Name || hs.RunDir != filepath.Join(s.Dir, hs.Name) {
			return nil, fmt.Errorf("lab: restore: bad host %q", hs.Name)
		}
		h := &Host{
			Name: hs.Name, NS: hs.NS, RunDir: hs.RunDir, DBSock: filepath.Join(hs.RunDir, "db.sock"),
			Underlay: hs.Underlay.Addr(), UnderlayPrefix: hs.Underlay, lab: l, ulPeer: hs.ULPeer,
		}
		if hs.OVSDBPID > 0 {
			h.ovsdb = proc{PID: hs.OVSDBPID, Comm: "ovsdb-server", Marker: h.pidfile("ovsdb-server")}
		}
		if hs.VSwitchdPID > 0 {
			h.vswitchd = proc{PID: hs.VSwitchdPID, Comm: "ovs-vswitchd", Marker: h.pidfile("ovs-vswitchd")}
		}
		if hs.DockerdPID > 0 {
			h.dockerd = proc{PID: hs.DockerdPID, Comm: "dockerd", Marker: filepath.Join(h.DockerDir(), "docker.pid")}
		}
		l.hosts = append(l.hosts, h)
	}
	for _, cs := range s.Containers {
		h := l.Host(cs.Host)
		if h == nil || cs.NS != s.ID+"-"+cs.Name {
			return nil, fmt.Errorf("lab: restore: bad container %q", cs.Name)
		}
		l.ctrs = append(l.ctrs, &Container{Name: cs.Name, NS: cs.NS, Host: h, Addr: cs.Addr, GW: cs.GW, MTU: cs.MTU, HostVeth: cs.HostVeth,
			Docker: cs.Docker, MAC: cs.MAC, Network: cs.Network})
	}
	l.nveth = len(l.ctrs)
	return l, nil
}

// ReadState reads a state file written by WriteState.
func ReadState(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("lab: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("lab: state file %s: %w", path, err)
	}
	return s, nil
}

// WriteState writes s as indented JSON to path.
func WriteState(path string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// readOwner reads the owner of the lab in dir; ok is false if dir has no
// readable state file.
func readOwner(dir string) (o Owner, ok bool) {
	s, err := ReadState(filepath.Join(dir, stateFile))
	if err != nil {
		return o, false
	}
	return s.Owner, true
}
