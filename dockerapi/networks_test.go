package dockerapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/network"

	"github.com/ovsmesh/ovsmesh/topology"
)

// netFake is a stateful Engine API (API 1.41, as Docker 20.10.24) that lists,
// inspects, creates and removes networks, identified by their names.
type netFake struct {
	host   string
	mu     sync.Mutex
	nets   map[string]network.Inspect
	writes []string // "POST NAME", "DELETE NAME"
}

func newNetFake(t *testing.T, nets ...network.Inspect) *netFake {
	t.Helper()
	f := &netFake{nets: map[string]network.Inspect{}}
	for _, n := range nets {
		f.nets[n.Name] = n
	}
	f.host = serveFake(t, f.serve)
	return f
}

func (f *netFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Api-Version", "1.41")
	if r.URL.Path == "/_ping" {
		w.Write([]byte("OK"))
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1.41")
	if !ok {
		notFound(w, "client version too new")
		return
	}
	name := strings.TrimPrefix(path, "/networks/")
	switch {
	case r.Method == http.MethodGet && path == "/networks":
		list := []network.Inspect{}
		for _, n := range f.nets {
			n.Containers = nil // Docker's list does not say
			list = append(list, n)
		}
		json.NewEncoder(w).Encode(list)
	case r.Method == http.MethodPost && path == "/networks/create":
		var req network.CreateRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.nets[req.Name] = network.Inspect{Network: network.Network{Name: req.Name, ID: req.Name, Driver: req.Driver,
			IPAM: *req.IPAM, Options: req.Options, Labels: req.Labels}}
		f.writes = append(f.writes, "POST "+req.Name)
		json.NewEncoder(w).Encode(network.CreateResponse{ID: req.Name})
	case r.Method == http.MethodGet && f.nets[name].Name != "":
		json.NewEncoder(w).Encode(f.nets[name])
	case r.Method == http.MethodDelete && f.nets[name].Name != "":
		delete(f.nets, name)
		f.writes = append(f.writes, "DELETE "+name)
		w.WriteHeader(http.StatusNoContent)
	default:
		notFound(w, "network "+name+" not found")
	}
}

func (f *netFake) takeWrites() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.Join(f.writes, ", ")
	f.writes = nil
	return s
}

var appNet = topology.NetworkState{Name: "app", Owner: "h1", Bridge: "om-app", Port: "ov-app", OFPort: 32700,
	Subnet: netip.MustParsePrefix("10.20.0.0/16"), IPRange: netip.MustParsePrefix("10.20.1.0/24"),
	Gateway: netip.MustParseAddr("10.20.0.1"), MTU: 1450, TunnelKey: 3 << 16}

// dockerNet is a network as Docker 20.10 reports one made by EnsureNetworks.
func dockerNet(n topology.NetworkState, labels map[string]string, containers ...string) network.Inspect {
	in := network.Inspect{Network: network.Network{Name: n.Name, ID: n.Name, Driver: "bridge",
		IPAM:    network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway}}},
		Options: map[string]string{optBridgeName: n.Bridge, optMTU: "1450"}, Labels: labels}}
	in.Containers = map[string]network.EndpointResource{}
	for _, c := range containers {
		in.Containers["id-"+c] = network.EndpointResource{Name: c}
	}
	return in
}

var ours = map[string]string{topology.ManagedLabel: "true"}

// TestEnsureNetworksCreates: a missing network is created with the plan's
// settings and labels; the second pass changes nothing and writes nothing.
func TestEnsureNetworksCreates(t *testing.T) {
	f := newNetFake(t)
	c := newClient(t, f.host)
	lines, err := c.EnsureNetworks(context.Background(), []topology.NetworkState{appNet}, false)
	if err != nil || len(lines) != 1 || f.takeWrites() != "POST app" {
		t.Fatalf("first pass: %q, %v", lines, err)
	}
	got := f.nets["app"]
	cfg := got.IPAM.Config[0]
	if got.Driver != "bridge" || cfg.Subnet != appNet.Subnet || cfg.IPRange != appNet.IPRange || cfg.Gateway != appNet.Gateway ||
		got.Options[optBridgeName] != "om-app" || got.Options[optMTU] != "1450" || got.Labels[topology.ManagedLabel] != "true" ||
		got.Labels[labelOwner] != "h1" || got.Labels[labelPlan] == "" {
		t.Fatalf("created %+v", got.Network)
	}
	lines, err = c.EnsureNetworks(context.Background(), []topology.NetworkState{appNet}, false)
	if err != nil || len(lines) != 0 || f.takeWrites() != "" {
		t.Fatalf("second pass: %q, %v, writes %q", lines, err, f.takeWrites())
	}
}

// TestEnsureNetworksNeverTouchesForeign: a network of the plan's name that
// ovsmesh did not make is an error and stays; one not in the plan stays too.
func TestEnsureNetworksNeverTouchesForeign(t *testing.T) {
	other := appNet
	other.Name = "mine"
	f := newNetFake(t, dockerNet(appNet, nil), dockerNet(other, map[string]string{"x": "y"}))
	c := newClient(t, f.host)
	_, err := c.EnsureNetworks(context.Background(), []topology.NetworkState{appNet}, false)
	if err == nil || !strings.Contains(err.Error(), `Docker network "app" exists and is not ovsmesh's`) {
		t.Fatalf("got %v", err)
	}
	if w := f.takeWrites(); w != "" {
		t.Fatalf("wrote %q", w)
	}
}

// TestEnsureNetworksRecreates: an ovsmesh network whose settings differ is
// recreated only while no container is attached.
func TestEnsureNetworksRecreates(t *testing.T) {
	old := appNet
	old.Gateway = netip.MustParseAddr("10.20.0.9")
	f := newNetFake(t, dockerNet(old, ours, "web"))
	c := newClient(t, f.host)
	_, err := c.EnsureNetworks(context.Background(), []topology.NetworkState{appNet}, false)
	if err == nil || !strings.Contains(err.Error(), `Docker network "app" has gateway 10.20.0.9, the plan 10.20.0.1, but containers are attached (web)`) {
		t.Fatalf("with a container: %v", err)
	}
	if w := f.takeWrites(); w != "" {
		t.Fatalf("with a container: wrote %q", w)
	}
	f.nets["app"] = dockerNet(old, ours)
	lines, err := c.EnsureNetworks(context.Background(), []topology.NetworkState{appNet}, false)
	if err != nil || !slices.Equal(lines, []string{`recreate Docker network "app": it has gateway 10.20.0.9, the plan 10.20.0.1`}) {
		t.Fatalf("without: %q, %v", lines, err)
	}
	if w := f.takeWrites(); w != "DELETE app, POST app" {
		t.Fatalf("without: wrote %q", w)
	}
}

// TestEnsureNetworksDeletesOwnOnly: an ovsmesh network no longer in the plan is
// deleted unless containers are attached; nobody else's is.
func TestEnsureNetworksDeletesOwnOnly(t *testing.T) {
	other := appNet
	other.Name = "theirs"
	f := newNetFake(t, dockerNet(appNet, ours, "web"), dockerNet(other, nil))
	c := newClient(t, f.host)
	_, err := c.EnsureNetworks(context.Background(), nil, false)
	if err == nil || !strings.Contains(err.Error(), `Docker network "app" (ovsmesh's) is no longer in the topology, but containers are attached (web)`) {
		t.Fatalf("with a container: %v", err)
	}
	f.nets["app"] = dockerNet(appNet, ours)
	lines, err := c.EnsureNetworks(context.Background(), nil, true)
	if err != nil || len(lines) != 1 || f.takeWrites() != "" {
		t.Fatalf("dry run: %q, %v", lines, err)
	}
	lines, err = c.EnsureNetworks(context.Background(), nil, false)
	if err != nil || len(lines) != 1 || f.takeWrites() != "DELETE app" {
		t.Fatalf("without: %q, %v", lines, err)
	}
	if _, ok := f.nets["theirs"]; !ok {
		t.Fatal("deleted a network ovsmesh did not make")
	}
}
