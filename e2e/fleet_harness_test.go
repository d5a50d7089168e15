package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Fleet mode in the lab: etcd runs in the lab's underlay namespace, on an address
// of the underlay bridge, so every host reaches it over its own underlay; each
// host has its own machine-id file and its own saved view.

const (
	fleetEtcdAddr = "198.18.0.250"
	fleetEtcdURL  = "http://" + fleetEtcdAddr + ":2379"
	fleetCluster  = "lab"
)

// fleetHosts is the lab of the fleet tests: four hosts, of which the tests make
// members in the order they choose (the file only builds the namespaces).
const fleetHosts = `network:
  encap: gre
  datapath: netdev
  subnet: 172.17.0.0/16
  slice_prefix: 20
hosts:
  - {name: docker1, address: 198.18.0.1, index: 1}
  - {name: docker2, address: 198.18.0.2, index: 2}
  - {name: docker3, address: 198.18.0.3, index: 3}
  - {name: docker4, address: 198.18.0.4, index: 4}
`

// fleetNetwork is what fleet init seeds: network settings and no host.
const fleetNetwork = `network:
  encap: gre
  mode: mesh
  datapath: netdev
  subnet: 172.17.0.0/16
  slice_prefix: 20
`

type fleetLab struct {
	*cluster
	etcd      *exec.Cmd    // the etcd at fleetEtcdURL (the first member)
	others    []*exec.Cmd  // the other members of a cluster of several
	endpoints []string     // every member's client URL, fleetEtcdURL first
	http      *http.Client // reaches etcd's JSON gateway from the underlay namespace
}

// newFleetLab builds the lab, starts etcd in its underlay namespace and seeds
// the fleet with `fleet init` of seed (fleetNetwork: network settings only).
func newFleetLab(t *testing.T, seed string) *fleetLab {
	t.Helper()
	return newFleetLabN(t, seed, 1)
}

// newFleetLabN is newFleetLab with an etcd cluster of n members, each on its own
// address of the underlay bridge (198.18.0.250 and up) and its own data directory.
func newFleetLabN(t *testing.T, seed string, n int) *fleetLab {
	t.Helper()
	testenv.RequireBinary(t, "etcd", "etcd-server")
	c := newCluster(t, fleetHosts)
	f := &fleetLab{cluster: c}
	ul := c.lab.UnderlayNS
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argvs := [][]string{}
	for i := range n {
		addr := fmt.Sprintf("198.18.0.%d", 250+i)
		f.endpoints = append(f.endpoints, "http://"+addr+":2379")
		argvs = append(argvs, []string{"ip", "-n", ul, "addr", "add", addr + "/24", "dev", "br-ul"})
	}
	for _, argv := range append(argvs, [][]string{
		// The hosts' end of the underlay is a port of a netdev bridge: etcd's
		// TCP must leave with its checksums computed.
		{"ip", "netns", "exec", ul, "ethtool", "-K", "br-ul", "tx", "off"},
	}...) {
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("etcd's underlay: %v: %v: %s", argv, err, out)
		}
	}
	if n == 1 {
		f.startEtcd(t)
	} else {
		f.startMembers(t)
	}
	t.Cleanup(func() { f.stopEtcd(t); f.stopOthers() })
	f.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: loopDialNS(ul), DisableKeepAlives: true}}
	if _, ok := poll(20*time.Second, func() bool { _, err := f.etcdGet("/health"); return err == nil }); !ok {
		t.Fatal("etcd not healthy within 20s")
	}
	path := filepath.Join(c.dir, "network.yaml")
	if err := os.WriteFile(path, []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := f.ovsmesh("docker1", "fleet", "init", path)
	if err != nil {
		t.Fatalf("fleet init: %v\n%s", err, out)
	}
	t.Logf("fleet init: %s", strings.TrimSpace(out))
	for i, h := range c.lab.Hosts() {
		id := fmt.Sprintf("%032x", 0xf1ee7000+i)
		if err := os.WriteFile(f.machineID(h.Name), []byte(id+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// startEtcd starts etcd in the underlay namespace on the lab's data directory
// (kept across restarts).
func (f *fleetLab) startEtcd(t *testing.T) {
	t.Helper()
	peer := "http://127.0.0.1:2380"
	f.etcd = exec.Command("ip", "netns", "exec", f.lab.UnderlayNS, "etcd", "--name", "lab", "--data-dir", filepath.Join(f.dir, "etcd"),
		"--listen-client-urls", fleetEtcdURL, "--advertise-client-urls", fleetEtcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "lab="+peer)
	logf, err := os.OpenFile(filepath.Join(f.dir, "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	f.etcd.Stdout, f.etcd.Stderr = logf, logf
	if err := f.etcd.Start(); err != nil {
		t.Fatal(err)
	}
}

// stopEtcd kills etcd by its pid (`ip netns exec` execs etcd: the pid is etcd's).
func (f *fleetLab) stopEtcd(t *testing.T) {
	if f.etcd == nil {
		return
	}
	_ = f.etcd.Process.Kill()
	_ = f.etcd.Wait()
	f.etcd = nil
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(f.dir, "etcd.log"))
		t.Logf("etcd log (tail):\n%s", tail(string(log), 20))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (f *fleetLab) machineID(host string) string { return filepath.Join(f.dir, host, "machine-id") }
func (f *fleetLab) viewFile(host string) string  { return filepath.Join(f.dir, host, "view.yaml") }

// etcdFlags are the flags every fleet command of the tests takes.
func (f *fleetLab) etcdFlags() []string {
	return []string{"--etcd", strings.Join(f.endpoints, ","), "--etcd-insecure", "--cluster", fleetCluster}
}

// ovsmesh runs an ovsmesh command with the etcd flags inside host's namespace.
func (f *fleetLab) ovsmesh(host string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := f.host(host).Command(ctx, append(append([]string{ovsmeshBin}, args...), f.etcdFlags()...)...).CombinedOutput()
	return string(out), err
}

// status is `fleet status -o json`.
func (f *fleetLab) status(t *testing.T) fleetStatus {
	t.Helper()
	out, err := f.ovsmesh("docker1", "fleet", "status", "-o", "json")
	if err != nil {
		t.Fatalf("fleet status: %v\n%s", err, out)
	}
	var s fleetStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("fleet status -o json: %v\n%s", err, out)
	}
	return s
}

type fleetStatus struct {
	Revision int64 `json:"revision"`
	Members  []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
		Index   int    `json:"index"`
		Alive   bool   `json:"alive"`
	} `json:"members"`
	Stale []struct{ Key, Reason string } `json:"stale"`
}

func (s fleetStatus) index(name string) int {
	for _, m := range s.Members {
		if m.Name == name {
			return m.Index
		}
	}
	return 0
}

// viewHosts returns the hosts of host's saved view (nil if none).
func (f *fleetLab) viewHosts(host string) *topology.Topology {
	t, err := topology.Load(f.viewFile(host))
	if err != nil {
		return nil
	}
	return t
}

// hasTunnelTo says whether host's bridge has the tunnel port to peer (the lab's
// names are short: the index never shows in their port names).
func (f *fleetLab) hasTunnelTo(host, peer string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := f.host(host)
	out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=5", "list-ports", "br0")
	return err == nil && strings.Contains(out+"\n", topology.PortName(topology.EncapGRE, peer, 0)+"\n")
}

// etcdPut writes a raw key through etcd's JSON gateway (v3 API, base64 keys).
func (f *fleetLab) etcdPut(t *testing.T, key, value string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{
		"key": base64.StdEncoding.EncodeToString([]byte(key)), "value": base64.StdEncoding.EncodeToString([]byte(value))})
	resp, err := f.http.Post(fleetEtcdURL+"/v3/kv/put", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("etcd put %s: %s", key, resp.Status)
	}
}

func (f *fleetLab) etcdGet(path string) (string, error) {
	resp, err := f.http.Get(fleetEtcdURL + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return b.String(), err
}
