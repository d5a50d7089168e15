package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCommandReferenceUpToDate regenerates the command reference and compares it
// with docs/cli: a changed flag or help text must come with `make docs`.
func TestCommandReferenceUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDocs(dir, ""); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "docs", "cli")
	gen, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	have, _ := os.ReadDir(committed)
	if len(have) != len(gen) {
		t.Errorf("docs/cli has %d pages, the commands give %d: run make docs", len(have), len(gen))
	}
	for _, e := range gen {
		want, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil || string(got) != string(want) {
			t.Errorf("docs/cli/%s is not what the commands say (run make docs): %v", e.Name(), err)
		}
	}
}
