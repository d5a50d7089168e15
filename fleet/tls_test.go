package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// testCA issues certificates for the mTLS test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ovsmesh test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue writes a certificate with CN cn (and 127.0.0.1 as its IP) and its key.
func (ca *testCA) issue(t *testing.T, cn string, n int64) (cert, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	return ca.write(t, cn+".pem", "CERTIFICATE", der), ca.write(t, cn+"-key.pem", "EC PRIVATE KEY", kder)
}

// startTLSEtcd starts an etcd that requires client certificates; it returns its
// https URL. It is stopped by its pid when the test ends.
func startTLSEtcd(t *testing.T, ca *testCA) string {
	t.Helper()
	if testEtcd.err != nil {
		testenv.SkipOrFail(t, "%v", testEtcd.err)
	}
	srvCert, srvKey := ca.issue(t, "server", 2)
	cp, _ := freePort()
	pp, _ := freePort()
	url := fmt.Sprintf("https://127.0.0.1:%d", cp)
	peer := fmt.Sprintf("http://127.0.0.1:%d", pp)
	dir := t.TempDir()
	cmd := exec.Command("etcd", "--name", "tls", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", url, "--advertise-client-urls", url,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "tls="+peer,
		"--cert-file", srvCert, "--key-file", srvKey, "--trusted-ca-file", filepath.Join(ca.dir, "ca.pem"), "--client-cert-auth")
	log, _ := os.Create(filepath.Join(dir, "etcd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // see startEtcd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() })
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "https://"), 200*time.Millisecond); err == nil {
			c.Close()
			return url
		}
	}
	t.Fatalf("etcd with TLS did not listen on %s", url)
	return ""
}

// TestMutualTLSWithAPrefixRole: a host's certificate (CN = host name) is its etcd
// user; a role on the fleet's prefix lets it join there and nowhere else; without
// a certificate nothing works.
func TestMutualTLSWithAPrefixRole(t *testing.T) {
	ca := newTestCA(t)
	url := startTLSEtcd(t, ca)
	caFile := filepath.Join(ca.dir, "ca.pem")
	rootCert, rootKey := ca.issue(t, "root", 3)
	hostCert, hostKey := ca.issue(t, "docker1", 4)
	connect := func(cluster, cert, key string) *Client {
		c, err := Connect(Config{Endpoints: []string{url}, CA: caFile, Cert: cert, Key: key, Cluster: cluster})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	root := connect("prod", rootCert, rootKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	grantPrefixRole(t, ctx, root, "docker1")
	if err := root.Init(ctx, labNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	host := connect("prod", hostCert, hostKey)
	r, err := host.Join(ctx, "docker1", netip.MustParseAddr("198.18.0.1"), "m1")
	if err != nil || r.Index != 1 {
		t.Fatalf("join over mTLS: %+v, %v", r, err)
	}
	if _, err := host.holdLease(ctx, "docker1", "m1", 5*time.Second); err != nil {
		t.Errorf("liveness lease over mTLS with the prefix role: %v", err)
	}
	other := connect("other", hostCert, hostKey)
	if err := other.Init(ctx, labNetwork(), nil); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("init of another fleet with docker1's role: %v, want permission denied", err)
	}
	anon, err := Connect(Config{Endpoints: []string{url}, CA: caFile, Cluster: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, err := anon.Join(ctx, "docker2", netip.MustParseAddr("198.18.0.2"), "m2"); err == nil {
		t.Error("join without a client certificate succeeded")
	} else {
		t.Logf("join without a client certificate: %v", err)
	}
}

// grantPrefixRole enables auth with user root (the root client's CN) and gives
// host a role on the client's fleet prefix only.
func grantPrefixRole(t *testing.T, ctx context.Context, root *Client, host string) {
	t.Helper()
	prefix := root.Keys.Prefix()
	e := root.etcd
	steps := []func() error{
		func() error { _, err := e.RoleAdd(ctx, "root"); return err },
		func() error {
			_, err := e.UserAddWithOptions(ctx, "root", "", &clientv3.UserAddOptions{NoPassword: true})
			return err
		},
		func() error { _, err := e.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := e.RoleAdd(ctx, "ovsmesh-prod"); return err },
		func() error {
			_, err := e.RoleGrantPermission(ctx, "ovsmesh-prod", prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(authpb.READWRITE))
			return err
		},
		func() error {
			_, err := e.UserAddWithOptions(ctx, host, "", &clientv3.UserAddOptions{NoPassword: true})
			return err
		},
		func() error { _, err := e.UserGrantRole(ctx, host, "ovsmesh-prod"); return err },
		func() error { _, err := e.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}
