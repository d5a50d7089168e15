package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// debFiles are the paths the package must install.
var debFiles = []string{
	"/usr/sbin/ovsmesh",
	"/lib/systemd/system/ovsmesh.service",
	"/etc/ovsmesh/topology.yaml.example",
	"/usr/share/man/man8/ovsmesh.8.gz",
	"/usr/share/man/man8/ovsmesh-apply.8.gz",
	"/usr/share/bash-completion/completions/ovsmesh",
	"/usr/share/zsh/vendor-completions/_ovsmesh",
	"/usr/share/doc/ovsmesh/changelog.Debian.gz",
	"/usr/share/doc/ovsmesh/copyright",
}

// TestDebPackage builds the package with make deb's script, lints it, installs
// it, checks what landed where and that nothing was enabled or started, runs
// the installed `ovsmesh version`, purges it and checks nothing of it remains.
func TestDebPackage(t *testing.T) {
	testenv.SkipShort(t, "root, dpkg and lintian (a package test)")
	testenv.RequireRoot(t, "dpkg installs and purges the package")
	testenv.RequireBinaries(t, "dpkg", "dpkg-deb", "lintian")
	if exec.Command("dpkg-query", "-W", "ovsmesh").Run() == nil {
		t.Skip("the ovsmesh package is installed on this machine: not touching it")
	}
	if _, err := os.Stat("/etc/ovsmesh"); err == nil {
		t.Skip("/etc/ovsmesh exists on this machine: not touching it")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	deb := strings.TrimSpace(run(t, root, "bash", "scripts/deb.sh"))
	deb = filepath.Join(root, deb)
	t.Cleanup(func() { _ = os.Remove(deb) })
	t.Logf("lintian:\n%s", run(t, root, "lintian", "--fail-on", "error", "--tag-display-limit", "0", deb))

	info := run(t, root, "dpkg-deb", "--info", deb)
	for _, script := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if strings.Contains(info, " "+script) {
			t.Errorf("the package has a %s: installing or removing it must run nothing\n%s", script, info)
		}
	}
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "ovsmesh").Run() })
	run(t, root, "dpkg", "-i", deb)
	checkInstalled(t, root)

	run(t, root, "dpkg", "--purge", "ovsmesh")
	for _, p := range append(debFiles, "/etc/ovsmesh", "/usr/share/doc/ovsmesh") {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there after dpkg --purge", p)
		}
	}
	if exec.Command("dpkg-query", "-W", "ovsmesh").Run() == nil {
		t.Error("dpkg still knows the ovsmesh package after --purge")
	}
}

// checkInstalled checks the installed files, the inactive unit and the version.
func checkInstalled(t *testing.T, root string) {
	t.Helper()
	for _, p := range debFiles {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("installed package: %v", err)
		}
	}
	unit, err := os.ReadFile("/lib/systemd/system/ovsmesh.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ConditionPathExists=/etc/ovsmesh/topology.yaml\n",
		"ExecStart=/usr/sbin/ovsmesh apply /etc/ovsmesh/topology.yaml ", "Type=notify\n"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("installed unit lacks %q", want)
		}
	}
	if _, err := os.Stat("/etc/ovsmesh/topology.yaml"); err == nil {
		t.Error("installing wrote /etc/ovsmesh/topology.yaml: the service would start")
	}
	if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/ovsmesh.service"); err == nil {
		t.Error("installing enabled ovsmesh.service")
	}
	version, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(run(t, root, "/usr/sbin/ovsmesh", "version"))
	if want := "ovsmesh " + strings.TrimSpace(string(version)); got != want {
		t.Errorf("installed ovsmesh version = %q, want %q (the VERSION file)", got, want)
	}
}

// run runs argv in dir and returns its stdout; it fails t with both outputs.
func run(t *testing.T, dir string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out.String(), errOut.String())
	}
	return out.String()
}
