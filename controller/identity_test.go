package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeContainers is Docker's list of containers, by bridge; err answers
// every call.
type fakeContainers struct {
	on  map[string][]topology.Container
	err error
}

var _ DockerContainers = (*fakeContainers)(nil)

func (f *fakeContainers) Containers(_ context.Context, bridge string) ([]topology.Container, error) {
	return f.on[bridge], f.err
}

// fakeVeths maps a pid to its veth; a pid it does not know has none.
type fakeVeths map[int]string

var _ Veths = fakeVeths(nil)

func (f fakeVeths) Veth(_ context.Context, bridge string, pid int) (string, error) {
	if v, ok := f[pid]; ok {
		return v, nil
	}
	return "", fmt.Errorf("pid %d: no veth of the container on the bridge %s", pid, bridge)
}

// fakeIdentity holds the table it was last given, rendered as text.
type fakeIdentity struct {
	have   *topology.Identity
	writes int
}

var _ IdentityTable = (*fakeIdentity)(nil)

func (f *fakeIdentity) Apply(_ context.Context, want topology.Identity, dry bool) ([]string, error) {
	if f.have != nil && f.have.Equal(want) {
		return nil, nil
	}
	if !dry {
		f.have, f.writes = &want, f.writes+1
	}
	return []string{fmt.Sprintf("table with %d containers", len(want.Chains))}, nil
}

func (f *fakeIdentity) String() string {
	if f.have == nil {
		return "no table"
	}
	var s []string
	for _, c := range f.have.Chains {
		s = append(s, c.Container+"@"+c.Veth)
	}
	return strings.Join(s, " ")
}

func ctr(name string, pid int) topology.Container {
	return topology.Container{Name: name, Pid: pid, MAC: fmt.Sprintf("02:42:ac:11:00:%02x", pid),
		IPv4: netip.AddrFrom4([4]byte{172, 17, 0, byte(pid)})}
}

func newIdentityFake(t *testing.T) (*onePass, *fakeContainers, *fakeIdentity) {
	r, _, _ := newFake(t, "lab.yaml")
	docker := &fakeContainers{on: map[string][]topology.Container{"docker0": {ctr("c1", 2), ctr("c2", 3)}}}
	tab := &fakeIdentity{}
	r.Identity = &Identity{Containers: docker, Veths: fakeVeths{2: "veth2", 3: "veth3"}, Table: tab}
	return r, docker, tab
}

// TestIdentityStep: the step comes after the others but the docker step; a
// dry run writes nothing; a pass checks every container on docker0 on its
// veth; the next pass changes nothing; a container that leaves is no longer
// checked.
func TestIdentityStep(t *testing.T) {
	r, docker, tab := newIdentityFake(t)
	r.Firewall, r.Docker = &fakeFirewall{}, &fakeDocker{err: unreachable{}}
	res := r.Once(context.Background(), true)
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	if want := []string{StepOVSDB, StepBridge, StepFlows, StepFiles, StepFirewall, StepIdentity, StepDocker}; !slices.Equal(names, want) {
		t.Errorf("steps %q, want %q", names, want)
	}
	if tab.have != nil || !slices.Equal(res.changes(StepIdentity), []string{"table with 2 containers"}) {
		t.Errorf("dry run: %s, changes %q", tab, res.changes(StepIdentity))
	}
	res = r.Once(context.Background(), false)
	if tab.String() != "c1@veth2 c2@veth3" || res.Err() != nil {
		t.Errorf("pass: %s, %v", tab, res.Err())
	}
	if res = r.Once(context.Background(), false); res.Changed() || res.Err() != nil || tab.writes != 1 {
		t.Errorf("second pass: %+v, %d writes", res.Steps, tab.writes)
	}
	docker.on["docker0"] = docker.on["docker0"][1:]
	if res = r.Once(context.Background(), false); tab.String() != "c2@veth3" || res.Err() != nil {
		t.Errorf("c1 left: %s, %v", tab, res.Err())
	}
}

// TestIdentityWithoutDocker: while Docker does not answer, or fails, the table
// stays as it is (no container's checks are lifted); only a failure is an
// error.
func TestIdentityWithoutDocker(t *testing.T) {
	r, docker, tab := newIdentityFake(t)
	r.Once(context.Background(), false)
	docker.err = fmt.Errorf("docker at unix:///x: %w", unreachable{})
	res := r.Once(context.Background(), false)
	if res.Err() != nil || res.Changed() || tab.String() != "c1@veth2 c2@veth3" {
		t.Errorf("Docker down: %v, %s", res.Err(), tab)
	}
	docker.err = errors.New("docker at unix:///x: list networks: 500 Internal Server Error")
	res = r.Once(context.Background(), false)
	if err := res.Err(); err == nil || err.Error() != "identity: table left as it is: docker at unix:///x: list networks: 500 Internal Server Error" ||
		tab.String() != "c1@veth2 c2@veth3" {
		t.Errorf("Docker fails: %v, %s", err, tab)
	}
}

// TestIdentityVethNotYet: a container whose veth is not found yet is named in
// the step's error (a loop retries soon) and the others are checked.
func TestIdentityVethNotYet(t *testing.T) {
	r, docker, tab := newIdentityFake(t)
	docker.on["docker0"] = append(docker.on["docker0"], ctr("c3", 4))
	res := r.Once(context.Background(), false)
	want := "identity: container c3 on docker0 not checked yet: pid 4: no veth of the container on the bridge docker0"
	if err := res.Err(); err == nil || err.Error() != want || tab.String() != "c1@veth2 c2@veth3" {
		t.Errorf("got %v, %s; want %s", err, tab, want)
	}
}
