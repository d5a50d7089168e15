package dockerapi

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestNetworkReadsDocker2010: what a real Docker 20.10.24 answered (testdata),
// read through API version negotiation (1.41), as the values ovsmesh compares.
func TestNetworkReadsDocker2010(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    topology.DockerNetwork
	}{
		// daemon.json {} on a fresh host: no gateway reported.
		{"bridge-defaults.json", topology.DockerNetwork{Name: "bridge", Bridge: "docker0",
			Subnet: netip.MustParsePrefix("172.17.0.0/16"), MTU: 1500, ICC: true}},
		// {} again, docker0 already holding 172.17.0.2/16: Docker takes it.
		{"bridge-persisted.json", topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Gateway: netip.MustParseAddr("172.17.0.2"),
			Subnet: netip.MustParsePrefix("172.17.0.0/16"), MTU: 1500, ICC: true}},
		// {"bip": "172.17.0.2/16", "fixed-cidr": "172.17.16.0/20", "mtu": 1462}
		{"bridge-bip.json", topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Gateway: netip.MustParseAddr("172.17.0.2"),
			Subnet: netip.MustParsePrefix("172.17.0.0/16"), IPRange: netip.MustParsePrefix("172.17.16.0/20"), MTU: 1462, ICC: true}},
		// the same with "icc": false
		{"bridge-icc-false.json", topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Gateway: netip.MustParseAddr("172.17.0.2"),
			Subnet: netip.MustParsePrefix("172.17.0.0/16"), IPRange: netip.MustParsePrefix("172.17.16.0/20"), MTU: 1462}},
	} {
		f := newFakeDocker(t, map[string]string{"bridge": string(readFixture(tc.fixture))})
		c := newClient(t, f.host)
		got, err := c.Network(context.Background(), "docker0")
		if err != nil {
			t.Fatalf("%s: %v", tc.fixture, err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.fixture, got, tc.want)
		}
		if want := "HEAD /_ping, GET /v1.41/networks/bridge"; f.requests() != want {
			t.Errorf("%s: requests %s, want %s", tc.fixture, f.requests(), want)
		}
	}
}

func newClient(t *testing.T, host string) *Client {
	t.Helper()
	c, err := New(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNetworkOtherBridge: a plan whose docker bridge is not the default
// network's finds the network that uses it, or says that none does.
func TestNetworkOtherBridge(t *testing.T) {
	def := string(readFixture("bridge-bip.json"))
	mesh := strings.NewReplacer(`"Name":"bridge"`, `"Name":"mesh"`, `"docker0"`, `"br-mesh"`,
		`"com.docker.network.bridge.default_bridge":"true",`, "").Replace(def)
	f := newFakeDocker(t, map[string]string{"bridge": def, "mesh": mesh})
	got, err := newClient(t, f.host).Network(context.Background(), "br-mesh")
	if err != nil || got.Name != "mesh" || got.Bridge != "br-mesh" || got.MTU != 1462 {
		t.Errorf("br-mesh: %+v, %v", got, err)
	}
	_, err = newClient(t, f.host).Network(context.Background(), "br-other")
	var no *NoNetworkError
	if !errors.As(err, &no) || err.Error() != `Docker has no network on bridge br-other (its default network "bridge" uses docker0)` {
		t.Errorf("br-other: %v", err)
	}
	f = newFakeDocker(t, nil) // "bridge": "none": no default network
	_, err = newClient(t, f.host).Network(context.Background(), "docker0")
	if !errors.As(err, &no) || err.Error() != `Docker has no network on bridge docker0, and no default network "bridge"` {
		t.Errorf("no default network: %v", err)
	}
}

// TestUnreachable: no socket, and a socket nobody answers on (systemd's
// socket activation before Docker starts), are both "not reachable", which
// says it is not a difference (Unavailable).
func TestUnreachable(t *testing.T) {
	dir, err := os.MkdirTemp("", "dockerapi-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	missing := "unix://" + filepath.Join(dir, "missing.sock")
	_, err = newClient(t, missing).Network(context.Background(), "docker0")
	assertUnreachable(t, err, "Docker not reachable at "+missing+": dial unix "+strings.TrimPrefix(missing, "unix://")+": connect: no such file or directory")

	stale := filepath.Join(dir, "stale.sock") // a socket nobody listens on any more
	if ln, err := net.Listen("unix", stale); err != nil {
		t.Fatal(err)
	} else {
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
	}
	_, err = newClient(t, "unix://"+stale).Network(context.Background(), "docker0")
	assertUnreachable(t, err, "Docker not reachable at unix://"+stale+": no connection (is Docker running?)")

	sock := filepath.Join(dir, "silent.sock")
	ln, err := net.Listen("unix", sock) // accepts into its backlog, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := newClient(t, "unix://"+sock)
	c.timeout = 200 * time.Millisecond
	_, err = c.Network(context.Background(), "docker0")
	assertUnreachable(t, err, "Docker not reachable at unix://"+sock+": no answer within 200ms")
	_, err = c.Version(context.Background())
	assertUnreachable(t, err, "Docker not reachable at unix://"+sock+": no answer within 200ms")

	// The caller giving up is not Docker's fault: its error comes back as is.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = c.Network(ctx, "docker0"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func assertUnreachable(t *testing.T, err error, prefix string) {
	t.Helper()
	var u interface{ Unavailable() bool }
	t.Logf("%v", err)
	if !errors.As(err, &u) || !u.Unavailable() || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("got %v, want an Unavailable error starting %q", err, prefix)
	}
}

func TestVersion(t *testing.T) {
	f := newFakeDocker(t, nil)
	v, err := newClient(t, f.host).Version(context.Background())
	if err != nil || v != "20.10.24+dfsg1 (API 1.41)" {
		t.Errorf("got %q, %v", v, err)
	}
}

func TestHostFromEnv(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	if h := HostFromEnv(); h != "unix:///var/run/docker.sock" {
		t.Errorf("unset: %s", h)
	}
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
	if h := HostFromEnv(); h != "tcp://127.0.0.1:2375" {
		t.Errorf("set: %s", h)
	}
	if _, err := New("bogus://x"); err == nil {
		t.Error("New accepted bogus://x")
	}
}
