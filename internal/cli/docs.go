package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra/doc"
)

// WriteDocs writes the command reference generated from the command definitions:
// one Markdown page per command into mdDir and, unless manDir is "", one man page
// per command (section 8: ovsmesh administers the host) into manDir. The pages carry
// no date, so they change only when a command does.
func WriteDocs(mdDir, manDir string) error {
	root := newRoot(io.Discard, io.Discard)
	root.DisableAutoGenTag = true
	for _, dir := range []string{mdDir, manDir} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("command reference: %w", err)
		}
	}
	if err := doc.GenMarkdownTree(root, mdDir); err != nil {
		return fmt.Errorf("markdown command reference in %s: %w", mdDir, err)
	}
	if manDir == "" {
		return nil
	}
	header := &doc.GenManHeader{Title: "OVSMESH", Section: "8", Source: "ovsmesh", Manual: "ovsmesh manual"}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return fmt.Errorf("man pages in %s: %w", manDir, err)
	}
	return nil
}
