package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// A second etcd in the lab's underlay namespace, with mutual TLS and
// authentication on: every client is known by its certificate's common name.
const (
	secEtcdAddr = "198.18.0.251"
	secEtcdURL  = "https://" + secEtcdAddr + ":2379"
	secCluster  = "sec"
)

type secEtcd struct {
	f   *fleetLab
	dir string // CA, certificates and keys
	ca  *x509.Certificate
	key *ecdsa.PrivateKey
	n   int64
}

// startSecEtcd starts the etcd with --client-cert-auth and makes its users with
// the lines of `ovsmesh fleet grant` (the operator's and hosts'), run through
// etcdctl as etcd's root user, then enables authentication.
func (f *fleetLab) startSecEtcd(t *testing.T, hosts ...string) *secEtcd {
	t.Helper()
	testenv.RequireBinary(t, "etcdctl", "etcd-client")
	s := &secEtcd{f: f, dir: filepath.Join(f.dir, "pki")}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.newCA(t)
	srv := s.issue(t, "server", net.ParseIP(secEtcdAddr))
	for _, user := range append([]string{"root", "ovsmesh-operator"}, hosts...) {
		s.issue(t, user)
	}
	ul := f.lab.UnderlayNS
	if out, err := exec.Command("ip", "-n", ul, "addr", "add", secEtcdAddr+"/24", "dev", "br-ul").CombinedOutput(); err != nil {
		t.Fatalf("etcd's address: %v: %s", err, out)
	}
	peer := "http://127.0.0.1:2390"
	cmd := exec.Command("ip", "netns", "exec", ul, "etcd", "--name", "sec", "--data-dir", filepath.Join(f.dir, "etcd-sec"),
		"--listen-client-urls", secEtcdURL, "--advertise-client-urls", secEtcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "sec="+peer,
		"--cert-file", srv+".pem", "--key-file", srv+"-key.pem", "--trusted-ca-file", s.caFile(), "--client-cert-auth")
	logf, err := os.Create(filepath.Join(f.dir, "etcd-sec.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	if _, ok := poll(20*time.Second, func() bool { _, err := s.etcdctl("root", "endpoint health"); return err == nil }); !ok {
		t.Fatal("etcd with mutual TLS not healthy within 20s")
	}
	lines := []string{"etcdctl user add root --no-password", "etcdctl role add root", "etcdctl user grant-role root root"}
	grant := func(args ...string) {
		out, err := s.ovsmesh("docker1", "root", append([]string{"fleet", "grant"}, args...)...)
		if err != nil {
			t.Fatalf("fleet grant %v: %v\n%s", args, err, out)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(out), "\n")...)
	}
	grant("--operator")
	for _, h := range hosts {
		grant(h)
	}
	for _, line := range append(lines, "etcdctl auth enable") {
		if !strings.HasPrefix(line, "etcdctl ") {
			t.Fatalf("fleet grant printed %q, want etcdctl commands", line)
		}
		if out, err := s.etcdctl("root", strings.TrimPrefix(line, "etcdctl ")); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	return s
}

func (s *secEtcd) caFile() string { return filepath.Join(s.dir, "ca.pem") }

func (s *secEtcd) newCA(t *testing.T) {
	t.Helper()
	s.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ovsmesh lab CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &s.key.PublicKey, s.key)
	if err != nil {
		t.Fatal(err)
	}
	s.ca, _ = x509.ParseCertificate(der)
	s.write(t, "ca.pem", "CERTIFICATE", der)
}

// issue writes cn.pem and cn-key.pem in the directory and returns their common
// path without the suffix.
func (s *secEtcd) issue(t *testing.T, cn string, ips ...net.IP) string {
	t.Helper()
	path := filepath.Join(s.dir, cn)
	if _, err := os.Stat(path + ".pem"); err == nil {
		return path
	}
	s.n++
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(10 + s.n), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca, &k.PublicKey, s.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	s.write(t, cn+".pem", "CERTIFICATE", der)
	s.write(t, cn+"-key.pem", "EC PRIVATE KEY", kder)
	return path
}

func (s *secEtcd) write(t *testing.T, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// etcdctl runs etcdctl in the underlay namespace as user (its certificate).
func (s *secEtcd) etcdctl(user, args string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(s.dir, user)
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", s.f.lab.UnderlayNS, "etcdctl"}, strings.Fields(args)...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3", "ETCDCTL_CACERT="+s.caFile(), "ETCDCTL_CERT="+path+".pem", "ETCDCTL_KEY="+path+"-key.pem",
		"ETCDCTL_DIAL_TIMEOUT=3s", "ETCDCTL_COMMAND_TIMEOUT=5s")
	if !strings.Contains(args, "--endpoints=") {
		cmd.Env = append(cmd.Env, "ETCDCTL_ENDPOINTS="+secEtcdURL)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// flags are the fleet flags of a client known as user.
func (s *secEtcd) flags(user string) []string {
	path := filepath.Join(s.dir, user)
	return []string{"--etcd", secEtcdURL, "--cluster", secCluster, "--etcd-ca", s.caFile(), "--etcd-cert", path + ".pem", "--etcd-key", path + "-key.pem"}
}

// ovsmesh runs an ovsmesh command in host's namespace as user.
func (s *secEtcd) ovsmesh(host, user string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(append([]string{ovsmeshBin}, args...), s.flags(user)...)
	out, err := s.f.host(host).Command(ctx, argv...).CombinedOutput()
	return string(out), err
}

// TestFleetHostIdentitiesUnderMutualTLS: with the users and roles of fleet
// grant on an etcd with --client-cert-auth, the hosts mesh as usual; docker1's
// identity cannot change docker2's record, the network settings or docker2's
// index, nor remove docker2; another machine cannot take docker2's place (with
// docker2's machine-id copied and --host docker2) nor its address; docker2 keeps
// its place in every view throughout.
func TestFleetHostIdentitiesUnderMutualTLS(t *testing.T) {
	f := newFleetLab(t, fleetNetwork)
	s := f.startSecEtcd(t, "docker1", "docker2", "docker3")
	network := filepath.Join(f.dir, "network.yaml")
	if out, err := s.ovsmesh("docker1", "ovsmesh-operator", "fleet", "init", network); err != nil {
		t.Fatalf("fleet init as the operator: %v\n%s", err, out)
	}
	two := []string{"docker1", "docker2"}
	for _, h := range two {
		launchLoop(t, f.cluster, h, loopOpts{fleet: f, args: append(s.flags(h), "--lease-ttl", fleetTTL), wait: true})
	}
	f.waitMembers(t, two, two)
	cts := f.containers(t, two)
	f.pingAll(t, cts)

	denied := func(what, out string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(out, "permission denied") {
			t.Errorf("%s: %v, want permission denied:\n%s", what, err, out)
		}
	}
	other := filepath.Join(f.dir, "other.yaml")
	if err := os.WriteFile(other, []byte(strings.Replace(fleetNetwork, "slice_prefix: 20", "slice_prefix: 24", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := s.ovsmesh("docker1", "docker1", "fleet", "set-network", other, "--force")
	denied("fleet set-network as docker1", out, err)
	out, err = s.ovsmesh("docker1", "docker1", "fleet", "remove", "docker2")
	denied("fleet remove docker2 as docker1", out, err)
	for _, args := range []string{
		`put /ovsmesh/sec/hosts/docker2/record {"name":"docker2","address":"198.18.0.9","index":2,"machine_id":""}`,
		`put /ovsmesh/sec/network {"encap":"vxlan"}`,
		`put /ovsmesh/sec/hosts/docker2/index/7 x`,
		`del --prefix /ovsmesh/sec/hosts/docker2/`,
	} {
		out, err := s.etcdctl("docker1", args)
		denied("etcdctl "+args+" as docker1", out, err)
	}
	// docker3, with docker2's machine-id and --host docker2: refused at once.
	mid, _ := os.ReadFile(f.machineID("docker2"))
	copied := filepath.Join(f.dir, "docker3", "copied-machine-id")
	if err := os.WriteFile(copied, mid, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = f.fleetOnce("docker3", append(s.flags("docker3"), "--host", "docker2", "--machine-id-file", copied)...)
	if err == nil || !strings.Contains(out, `is for "docker3" (its common name, the etcd user), and this host is "docker2"`) {
		t.Errorf("docker3 as --host docker2 with a copied machine-id: %v\n%s", err, out)
	}
	// docker3 under its own name with docker2's address: refused, docker2 kept.
	out, err = f.fleetOnce("docker3", append(s.flags("docker3"), "--address", "198.18.0.2")...)
	if err == nil || !strings.Contains(out, "address 198.18.0.2 was registered first by docker2") {
		t.Errorf("docker3 with docker2's address: %v\n%s", err, out)
	}
	f.keepsMember(t, "docker1", "docker2", 8*time.Second) // past TTL and grace
	st, err := s.ovsmesh("docker1", "ovsmesh-operator", "fleet", "status")
	if err != nil || !strings.Contains(st, "docker2") || !strings.Contains(st, "subnet 172.17.0.0/16 in /20 slices") {
		t.Errorf("fleet status as the operator: %v\n%s", err, st)
	}
	t.Logf("fleet status after docker1's attempts:\n%s", st)
	f.pingAll(t, cts)
}
