package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unitWritable parses a systemd unit's sandbox: the directories it may write
// under ProtectSystem=strict (ReadWritePaths, StateDirectory, RuntimeDirectory,
// CacheDirectory, LogsDirectory; PrivateTmp's /tmp).
func unitWritable(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := map[string]string{"StateDirectory": "/var/lib", "RuntimeDirectory": "/run", "CacheDirectory": "/var/cache", "LogsDirectory": "/var/log"}
	var dirs []string
	strict := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch {
		case k == "ProtectSystem":
			strict = v == "strict"
		case k == "ReadWritePaths":
			for _, p := range strings.Fields(v) {
				dirs = append(dirs, strings.TrimLeft(p, "-+"))
			}
		case k == "PrivateTmp" && v == "yes":
			dirs = append(dirs, "/tmp")
		case base[k] != "":
			for _, p := range strings.Fields(v) {
				dirs = append(dirs, filepath.Join(base[k], p))
			}
		}
	}
	if !strict {
		t.Fatalf("%s: no ProtectSystem=strict: the test's premise changed", path)
	}
	return dirs
}

// TestUnitLetsEveryModeWriteItsFiles: every file apply writes with its default
// flags, in file mode and in fleet mode, lies in a directory the shipped unit
// lets it write (the files are replaced through a temporary file beside them:
// the directory must be writable, not only the file).
func TestUnitLetsEveryModeWriteItsFiles(t *testing.T) {
	dirs := unitWritable(t, filepath.Join("..", "..", "packaging", "ovsmesh.service"))
	apply := newApply()
	def := func(name string) string { return apply.Flags().Lookup(name).DefValue }
	var f applyFlags
	f.fleet.etcd.cluster = "prod"
	view := f.fleet.viewPath()
	written := map[string]string{
		"--interfaces":             def("interfaces"),
		"--daemon-json":            def("daemon-json"),
		"the lock":                 lockPath(f),
		"fleet mode's --view-file": view,
	}
	for what, path := range written {
		// /var/run is a symbolic link to /run on every systemd system.
		dir := filepath.Dir(strings.Replace(path, "/var/run/", "/run/", 1))
		ok := false
		for _, d := range dirs {
			if dir == d || strings.HasPrefix(dir, d+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s %s: its directory %s is not writable under the unit (writable: %v)", what, path, dir, dirs)
		}
	}
}
