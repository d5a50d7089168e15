package openflow

import (
	"context"
	"strings"
	"testing"
)

// TestExecRunnerKeepsWarningsOutOfOutput: a warning on stderr of a command that
// succeeds must not reach the output (a dump would read it as a foreign flow and
// replace the table every pass); the stderr of a failing command must, since it
// carries the reason.
func TestExecRunnerKeepsWarningsOutOfOutput(t *testing.T) {
	out, err := ExecRunner{}.Run(context.Background(), nil, "sh", "-c", "echo flow; echo warning >&2")
	if err != nil || string(out) != "flow\n" {
		t.Errorf("succeeding command: output %q, err %v; want only stdout", out, err)
	}
	out, err = ExecRunner{}.Run(context.Background(), nil, "sh", "-c", "echo partial; echo 'br0 is not a bridge' >&2; exit 1")
	if err == nil || !strings.Contains(string(out), "partial") || !strings.Contains(string(out), "br0 is not a bridge") {
		t.Errorf("failing command: output %q, err %v; want stdout and stderr and an error", out, err)
	}
}
