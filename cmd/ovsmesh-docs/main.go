// Command ovsmesh-docs writes ovsmesh's command reference, generated from the
// command definitions: `ovsmesh-docs MARKDOWN_DIR [MAN_DIR]` (make docs), or its
// shell completions: `ovsmesh-docs -completions DIR` (make deb).
// It is a developer tool, not part of the product.
package main

import (
	"fmt"
	"os"

	"github.com/ovsmesh/ovsmesh/internal/cli"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-completions" {
		if err := cli.WriteCompletions(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "ovsmesh-docs:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: ovsmesh-docs MARKDOWN_DIR [MAN_DIR] | ovsmesh-docs -completions DIR")
		os.Exit(2)
	}
	man := ""
	if len(os.Args) == 3 {
		man = os.Args[2]
	}
	if err := cli.WriteDocs(os.Args[1], man); err != nil {
		fmt.Fprintln(os.Stderr, "ovsmesh-docs:", err)
		os.Exit(1)
	}
}
