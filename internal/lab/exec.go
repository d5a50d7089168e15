package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// waitDelay bounds how long a finished command may keep its output pipes open
// (a daemon that forgot to close stdio must not hang the lab).
const waitDelay = 5 * time.Second

// command builds an exec.Cmd for argv with extra environment variables added
// to this process's environment.
func command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.WaitDelay = waitDelay
	return cmd
}

// run runs argv and returns its combined output. The error names the command
// and carries its output.
func run(ctx context.Context, env []string, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("run: empty command")
	}
	cmd := command(ctx, env, argv...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		return out.String(), &CmdError{Argv: argv, Output: out.String(), Err: err}
	}
	return out.String(), nil
}

// CmdError is the error of a command that failed: it names the command and
// carries its combined output.
type CmdError struct {
	Argv   []string
	Output string
	Err    error
}

func (e *CmdError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Argv, " "), e.Err, out)
}

func (e *CmdError) Unwrap() error { return e.Err }

// nsArgv prefixes argv so that it runs inside network namespace ns.
func nsArgv(ns string, argv []string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}
