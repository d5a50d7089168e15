package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/fleet"
)

// Fleet mode's command-line refusals: each is a usage error (exit 2) that says
// what to do, and none reaches etcd.
func TestFleetUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "../../examples/lab.yaml", "--etcd", "https://127.0.0.1:1", "--cluster", "c"}, "not both"},
		{[]string{"plan", "../../examples/lab.yaml", "--etcd", "https://127.0.0.1:1", "--cluster", "c"}, "not both"},
		{[]string{"apply", "--cluster", "c"}, "--cluster needs --etcd"},
		{[]string{"apply"}, "one topology file (or --etcd URLS --cluster NAME)"},
		{[]string{"plan", "--etcd", "http://127.0.0.1:1", "--cluster", "c"}, "--etcd-insecure"},
		{[]string{"plan", "--etcd", "https://127.0.0.1:1"}, "--cluster: missing"},
		{[]string{"plan", "--etcd", "https://127.0.0.1:1", "--cluster", "a/b"}, "--cluster \"a/b\""},
		{[]string{"fleet", "status"}, "fleet commands need --etcd"},
		{[]string{"fleet", "status", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "-o", "yaml"}, "want text or json"},
		{[]string{"fleet"}, "missing subcommand"},
		{[]string{"fleet", "remove", "--etcd", "https://127.0.0.1:1", "--cluster", "c"}, "one host name"},
		{[]string{"fleet", "export", "--etcd", "ftp://x", "--cluster", "c"}, "want an http:// or https:// URL"},
		{[]string{"fleet", "status", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--etcd-cert", "x.pem"}, "--etcd-cert and --etcd-key go together"},
		{[]string{"apply", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--liveness-grace", "-1s"}, "--liveness-grace -1s: want 0 or more"},
		{[]string{"apply", "--etcd", "https://127.0.0.1:1", "--cluster", "c", "--lease-ttl", "1s"}, "--lease-ttl 1s: want at least 2s"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

// A network file that validate refuses is refused by fleet init before etcd is
// reached, with the file's own positions.
func TestFleetInitRefusesABadFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bad.yaml"
	writeFile(t, path, "network:\n  encap: geneve\n")
	code, _, stderr := run(t, "fleet", "init", path, "--etcd", "https://127.0.0.1:1", "--cluster", "c")
	if code != ExitFailed || !strings.Contains(stderr, "geneve") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming geneve", code, stderr)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flagError words fleet's errors with the options that set what they name, as
// the fleet package wrote them when it named flags itself.
func TestFlagError(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fleet.SettingError{Op: "load", Settings: []string{"Cert", "Key"}, Values: []string{"c.pem", "k.pem"}, Err: boom}, "load --etcd-cert c.pem and --etcd-key k.pem: boom"},
		{&fleet.SettingError{Op: "read", Settings: []string{"CA"}, Err: boom}, "read --etcd-ca: boom"},
		{&fleet.SettingError{Settings: []string{"Endpoints"}, Values: []string{"http://x"}, Err: fleet.ErrPlainHTTP},
			"--etcd http://x: plain http sends the fleet's data unencrypted and unauthenticated: use https:// with --etcd-ca, --etcd-cert and --etcd-key, or --etcd-insecure in a lab"},
		{fmt.Errorf("join h9: %w: address 198.18.0.1 was registered first by h1 (etcd revision 3): the first registration keeps it; %w", fleet.ErrRefused, fleet.ErrAddressTaken),
			"join h9: join refused: address 198.18.0.1 was registered first by h1 (etcd revision 3): the first registration keeps it; give this host its own address (--address)"},
		{boom, "boom"},
	} {
		got := flagError(tc.err)
		if got.Error() != tc.want || !errors.Is(got, tc.err) {
			t.Errorf("flagError(%v) = %q, want %q wrapping it", tc.err, got, tc.want)
		}
	}
}
