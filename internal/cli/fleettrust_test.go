package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFleetGrantPrintsEtcdctlCommands: one etcdctl command per line; a host's
// role writes its own prefix only, the operator's the fleet's.
func TestFleetGrantPrintsEtcdctlCommands(t *testing.T) {
	code, out, stderr := run(t, "fleet", "grant", "docker1", "--etcd", "https://e1:2379,https://e2:2379", "--cluster", "prod")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "etcdctl --endpoints=https://e1:2379,https://e2:2379 ") {
			t.Errorf("line %q does not begin with etcdctl and the endpoints", l)
		}
	}
	if !strings.Contains(out, "--prefix=true readwrite /ovsmesh/prod/hosts/docker1/\n") || strings.Count(out, "readwrite") != 1 {
		t.Errorf("host grant:\n%s\nwant exactly one readwrite, on /ovsmesh/prod/hosts/docker1/", out)
	}
	code, out, _ = run(t, "fleet", "grant", "--operator", "--cluster", "prod")
	if code != 0 || !strings.Contains(out, "etcdctl role grant-permission ovsmesh:prod:operator --prefix=true readwrite /ovsmesh/prod/\n") ||
		!strings.Contains(out, "etcdctl user add ovsmesh-operator --no-password\n") {
		t.Errorf("operator grant: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"fleet", "grant", "a/b", "--cluster", "prod"}, {"fleet", "grant", "--cluster", "prod"}, {"fleet", "grant", "h1"}} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// TestApplyRefusesAnotherHostsCertificate: under etcd's client-cert-auth the
// certificate's common name is the etcd user: a host started with another
// host's name (a copied machine-id and --host h2, with h3's certificate) is
// refused at once, before the lock, etcd or the files.
func TestApplyRefusesAnotherHostsCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "h3")
	mid := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(mid, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "apply", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--host", "h2", "--address", "198.18.0.2",
		"--etcd-cert", cert, "--etcd-key", key, "--machine-id-file", mid, "--lock", filepath.Join(dir, "lock"), "--view-file", filepath.Join(dir, "v.yaml"))
	if code != ExitUsage || !strings.Contains(stderr, `is for "h3" (its common name, the etcd user), and this host is "h2"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); err == nil {
		t.Error("the lock was taken before the refusal")
	}
}

func writeCert(t *testing.T, dir, cn string) (cert, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
