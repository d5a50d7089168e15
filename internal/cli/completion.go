package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteCompletions writes the bash completion script to dir/ovsmesh (the name
// bash-completion loads on demand) and the zsh one to dir/_ovsmesh, both
// generated from the command definitions.
func WriteCompletions(dir string) error {
	root := newRoot(io.Discard, io.Discard)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("completions directory %s: %w", dir, err)
	}
	bash := filepath.Join(dir, programName)
	if err := root.GenBashCompletionFileV2(bash, true); err != nil {
		return fmt.Errorf("bash completion %s: %w", bash, err)
	}
	zsh := filepath.Join(dir, "_"+programName)
	if err := root.GenZshCompletionFile(zsh); err != nil {
		return fmt.Errorf("zsh completion %s: %w", zsh, err)
	}
	return nil
}
