// Package testenv is the one skip policy of the tests that need this machine
// (root, installed commands, a network namespace, a private Open vSwitch) and
// the fixtures that provide them. Outside CI a missing requirement skips the
// test with the reason; with CI=true (.ci/run) it fails the test, so that CI
// never passes by skipping. Only _test.go files and the test lab
// (internal/lab, which delegates its skips here) import it; it imports the
// standard library only.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether tests run in CI (CI=true), where a test must fail
// instead of skipping.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips t with the message, or fails it with CI=true.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, so not skipping: "+format, args...)
		return
	}
	t.Skipf(format, args...)
}

// SkipShort skips t under -short (make test-short), also in CI: -short asks
// for the unit tests only. why says what the test needs.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s; skipped with -short", why)
	}
}

// RequireRoot skips t unless it runs as root (see SkipOrFail); why says what
// root is needed for.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (%s)", why)
	}
}

// RequireBinary returns the path of command name, or skips t (see SkipOrFail)
// naming the Debian package that installs it (scripts/deps.sh installs it in
// CI).
func RequireBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, "%s is not installed (Debian package %s, which scripts/deps.sh installs): %v", name, pkg, err)
	}
	return path
}

// RequireBinaries skips t unless every named command is installed, naming
// those that are missing (see SkipOrFail).
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		SkipOrFail(t, "missing commands: %s", strings.Join(missing, ", "))
	}
}

// NewNetNS creates a network namespace named prefix-<8 hex digits> and returns
// its name; it is deleted when the test ends. It skips under -short and needs
// root and ip (see SkipOrFail).
func NewNetNS(t testing.TB, prefix string) string {
	t.Helper()
	SkipShort(t, "root and a network namespace")
	RequireRoot(t, "network namespaces")
	RequireBinary(t, "ip", "iproute2")
	name := prefix + "-" + randomHex(t)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
