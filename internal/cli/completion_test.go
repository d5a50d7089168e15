package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCompletions(t *testing.T) {
	dir := t.TempDir()
	if err := WriteCompletions(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"ovsmesh": "__start_ovsmesh", "_ovsmesh": "#compdef ovsmesh"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", filepath.Join(dir, "ovsmesh")).CombinedOutput(); err != nil {
			t.Errorf("bash -n on the bash completion: %v\n%s", err, out)
		}
	}
}
