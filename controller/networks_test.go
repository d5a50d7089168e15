package controller

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeNetworks is Docker's networks and their bridges' ports as the networks
// step sees them; calls records the order of the calls.
type fakeNetworks struct {
	mu       sync.Mutex
	have     map[string]bool // Docker's networks
	attached map[string]bool // bridges holding their OVS port
	calls    []string
	err      error // EnsureNetworks's error
}

var (
	_ DockerNetworks = (*fakeNetworks)(nil)
	_ NetworkPorts   = (*fakeNetworks)(nil)
)

func (f *fakeNetworks) EnsureNetworks(_ context.Context, want []topology.NetworkState, dry bool) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "ensure")
	if f.err != nil {
		return nil, f.err
	}
	var changes []string
	for _, n := range want {
		if !f.have[n.Name] {
			changes = append(changes, "create Docker network "+n.Name)
			if !dry {
				f.have[n.Name] = true
			}
		}
	}
	return changes, nil
}

func (f *fakeNetworks) AttachNetworks(_ context.Context, want []topology.NetworkState, dry bool) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "attach")
	var changes []string
	for _, n := range want {
		if !f.have[n.Name] {
			return changes, errors.New("no bridge " + n.Bridge)
		}
		if !f.attached[n.Bridge] {
			changes = append(changes, "attach "+n.Port+" to "+n.Bridge)
			if !dry {
				f.attached[n.Bridge] = true
			}
		}
	}
	return changes, nil
}

// withNetworks is the lab's topology with two networks, in a file of the test's.
func withNetworks(t *testing.T, r *onePass) {
	t.Helper()
	lab, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	r.Path = filepath.Join(t.TempDir(), "topology.yaml")
	extra := "networks:\n  - {name: app, subnet: 10.20.0.0/16}\n  - {name: other, subnet: 10.30.0.0/16}\n"
	if err := os.WriteFile(r.Path, append(lab, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNetworksStep: the networks step creates Docker's networks, then joins
// their bridges to the mesh, in that order; the second pass changes nothing.
func TestNetworksStep(t *testing.T) {
	r, _, _ := newFake(t, "lab.yaml")
	withNetworks(t, r)
	f := &fakeNetworks{have: map[string]bool{}, attached: map[string]bool{}}
	r.DockerNetworks, r.NetworkPorts = f, f
	res := r.Once(context.Background(), false)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range res.Steps {
		if s.Name == StepNetworks {
			got = s.Changes
		}
	}
	want := []string{"create Docker network app", "create Docker network other", "attach ov-app to om-app", "attach ov-other to om-other"}
	if !slices.Equal(got, want) || strings.Join(f.calls, ",") != "ensure,attach" {
		t.Fatalf("networks step %q (calls %v), want %q", got, f.calls, want)
	}
	if res := r.Once(context.Background(), false); res.Err() != nil || res.Changed() {
		t.Fatalf("second pass: changed %v, %v", res.Changed(), res.Err())
	}
}

// TestNetworksStepDockerAway: Docker not answering is no failure of the step
// (at boot it starts after ovsmesh), and nothing is attached.
func TestNetworksStepDockerAway(t *testing.T) {
	r, _, _ := newFake(t, "lab.yaml")
	withNetworks(t, r)
	f := &fakeNetworks{have: map[string]bool{}, attached: map[string]bool{}, err: unreachable{}}
	r.DockerNetworks, r.NetworkPorts = f, f
	if err := r.Once(context.Background(), false).Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.calls, ",") != "ensure" {
		t.Fatalf("calls %v", f.calls)
	}
	f.err = errors.New(`Docker network "app" exists and is not ovsmesh's`)
	if err := r.Once(context.Background(), false).Err(); err == nil || !strings.Contains(err.Error(), "networks: ") {
		t.Fatalf("a refusal: %v", err)
	}
}
