package controller

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// fakeDocker is Docker as the docker step sees it: the network it reports, as
// it read daemon.json when it last started (restart).
type fakeDocker struct {
	s       *fakeState
	network topology.DockerNetwork
	err     error
	reads   int
}

var _ Docker = (*fakeDocker)(nil)

func (d *fakeDocker) Network(_ context.Context, bridge string) (topology.DockerNetwork, error) {
	d.reads++
	if d.err != nil {
		return topology.DockerNetwork{}, d.err
	}
	if d.network.Bridge != bridge {
		return topology.DockerNetwork{}, errors.New("no network on " + bridge)
	}
	return d.network, nil
}

// restart makes Docker read the fake daemon.json, as Docker 20.10 does with
// ovsmesh's keys (bip, fixed-cidr, mtu).
func (d *fakeDocker) restart(want topology.DockerBridge) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	d.network = topology.DockerNetwork{Name: "bridge", Bridge: want.Name, Gateway: want.Address.Addr(), Subnet: want.Address.Masked(),
		IPRange: netip.MustParsePrefix(d.s.files.FixedCIDR), MTU: d.s.files.MTU, ICC: true}
}

// dockerDefaults is what Docker 20.10 reports on a fresh host with daemon.json {}.
var dockerDefaults = topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Subnet: netip.MustParsePrefix("172.17.0.0/16"), MTU: 1500, ICC: true}

// TestDockerStep: Docker running with its defaults is the pass's error, naming
// every difference and the fix; once Docker restarted with the daemon.json the
// pass wrote, the pass succeeds. The step changes nothing.
func TestDockerStep(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	d := &fakeDocker{s: s, network: dockerDefaults}
	r.Docker = d
	res := r.Once(context.Background(), false)
	want := `docker: Docker's network "bridge" has gateway none, the plan 172.17.0.1; ` +
		`Docker's network "bridge" has IP range none (the whole subnet), the plan 172.17.64.0/18; ` +
		`Docker's network "bridge" has MTU 1500, the plan 1462: ` +
		`restart Docker to apply daemon.json (it holds the plan; Docker reads it only when it starts)`
	if err := res.Err(); err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if names := stepNames(res); names != "ovsdb docker0 openflow files docker" {
		t.Errorf("steps %s", names)
	}
	if res.changes(StepDocker) != nil {
		t.Errorf("the docker step reports changes: %q", res.changes(StepDocker))
	}
	writes := s.writeCount()
	if res = r.Once(context.Background(), false); res.Err() == nil || res.Changed() || s.writeCount() != writes {
		t.Errorf("second pass before the restart: err %v, changed %v", res.Err(), res.Changed())
	}
	d.restart(res.Want.Docker)
	if res = r.Once(context.Background(), false); res.Err() != nil {
		t.Errorf("after Docker restarted: %v", res.Err())
	}
}

func stepNames(res Result) string {
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	return strings.Join(names, " ")
}

// TestDockerStepFix: the fix says what holds the plan: a dry run that would
// write the files, or a files step that failed.
func TestDockerStepFix(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	r.Docker = &fakeDocker{s: s, network: dockerDefaults}
	err := r.Once(context.Background(), true).Err()
	if err == nil || !strings.HasSuffix(err.Error(), ": apply writes daemon.json; then restart Docker to apply it") {
		t.Errorf("dry run: %v", err)
	}
	r.Files = failingFiles{}
	err = r.Once(context.Background(), false).Err()
	if err == nil || !strings.HasSuffix(err.Error(), ": the files step failed, so daemon.json may not hold the plan: fix that, then restart Docker") {
		t.Errorf("files failed: %v", err)
	}
}

type failingFiles struct{}

func (failingFiles) Apply(context.Context, topology.HostState, bool) ([]string, error) {
	return nil, errors.New("read-only file system")
}

// TestDockerStepICC: icc false is an error with its own fix, beside any
// difference.
func TestDockerStepICC(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	d := &fakeDocker{s: s}
	r.Docker = d
	r.Once(context.Background(), false)
	d.restart(r.Once(context.Background(), false).Want.Docker)
	d.network.ICC = false
	err := r.Once(context.Background(), false).Err()
	want := `docker: Docker's network "bridge" has enable_icc false (daemon.json "icc": false), the plan needs true: ` +
		`Docker's inter-container DROP rule in the FORWARD chain (-i docker0 -o docker0 -j DROP) also drops the mesh's traffic, ` +
		`bridged between br0 and the containers on docker0, when br_netfilter is loaded: drop "icc": false from daemon.json and restart Docker, ` +
		`or accept the mesh's frames in DOCKER-USER (iptables -I DOCKER-USER -m physdev --physdev-in br0 -j ACCEPT; iptables -I DOCKER-USER -m physdev --physdev-out br0 -j ACCEPT)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// TestDockerUnreachable: Docker not answering is no error (it may start after
// ovsmesh), said at debug level; any other failure to read it is the step's.
func TestDockerUnreachable(t *testing.T) {
	r, s, _ := newFake(t, "lab.yaml")
	var log bytes.Buffer
	r.Log = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := &fakeDocker{s: s, err: unreachable{}}
	r.Docker = d
	if err := r.Once(context.Background(), false).Err(); err != nil || d.reads != 1 {
		t.Errorf("unreachable: %v (%d reads)", err, d.reads)
	}
	if !strings.Contains(log.String(), `level=DEBUG msg="docker: not compared with the plan" host=docker1 err="not connected"`) {
		t.Errorf("log lacks the debug line:\n%s", log.String())
	}
	d.err = errors.New(`Docker has no network on bridge docker0 (its default network "bridge" uses br1)`)
	if err := r.Once(context.Background(), false).Err(); err == nil || err.Error() != "docker: "+d.err.Error() {
		t.Errorf("no network: %v", err)
	}
}
