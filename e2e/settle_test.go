package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A topology file rewritten in place (scp, an editor) passes through versions
// that are valid YAML with fewer hosts: none of them may be applied.

// writeInPlace truncates path and writes content one line at a time, pause
// between lines, and returns when the last line is written.
func writeInPlace(t *testing.T, path, content string, pause time.Duration) time.Time {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := strings.SplitAfter(strings.TrimSuffix(content, "\n"), "\n")
	for i, l := range lines {
		if _, err := f.WriteString(l); err != nil {
			t.Fatal(err)
		}
		if i < len(lines)-1 {
			time.Sleep(pause)
		}
	}
	return time.Now()
}

// tunnelNames returns the names of host's ovsmesh-owned tunnel ports.
func tunnelNames(c *cluster, host string) (string, error) {
	s, err := readHostState(c, host, false)
	var names []string
	for _, l := range s.Rows {
		if f := strings.Fields(l); f[0] == "interface" && strings.HasPrefix(f[1], "gre-") {
			names = append(names, f[1])
		}
	}
	return strings.Join(names, " "), err
}

// TestLoopWaitsForFileToSettle: the loop's file is rewritten in place, slowly,
// from three hosts to four: the tunnels to the hosts written last are never
// deleted, and the whole new file is applied once it has settled.
func TestLoopWaitsForFileToSettle(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 3))
	p := launchLoop(t, c, "docker1", loopOpts{wait: true})
	before, err := tunnelNames(c, "docker1")
	if err != nil || before != "gre-docker2 gre-docker3" {
		t.Fatalf("tunnels before: %q, %v", before, err)
	}
	// Watch the tunnels while the file is written.
	stop := make(chan struct{})
	seen := make(chan []string, 1)
	go func() {
		var states []string
		for {
			select {
			case <-stop:
				seen <- states
				return
			case <-time.After(100 * time.Millisecond):
			}
			if names, err := tunnelNames(c, "docker1"); err == nil && (len(states) == 0 || states[len(states)-1] != names) {
				states = append(states, names)
			}
		}
	}()
	grown := labTopology(loopGRE, 4)
	writeInPlace(t, c.path, grown, 250*time.Millisecond)
	took, ok := poll(15*time.Second, func() bool {
		names, err := tunnelNames(c, "docker1")
		return err == nil && names == "gre-docker2 gre-docker3 gre-docker4"
	})
	close(stop)
	states := <-seen
	t.Logf("tunnels seen while the file was written and after: %q", states)
	if !ok {
		t.Fatalf("the 4-host file not applied within %v of its last write", took)
	}
	t.Logf("the 4-host file applied %v after its last write", took.Round(time.Millisecond))
	for _, s := range states {
		if s != before && s != "gre-docker2 gre-docker3 gre-docker4" {
			t.Errorf("a half-written file was applied: tunnels %q", s)
		}
	}
	if l := p.logs(t, 0, "topology file is being written: waiting for it to settle before applying it"); len(l) == 0 {
		t.Errorf("the wait for the file to settle is not logged")
	}
	p.stop(t)
}

// TestApplyWaitsForFileToSettle: a single apply started while its file is being
// written applies the whole file.
func TestApplyWaitsForFileToSettle(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology(loopGRE, 3))
	grown := labTopology(loopGRE, 4)
	done := make(chan time.Time, 1)
	go func() { done <- writeInPlace(t, c.path, grown, 200*time.Millisecond) }()
	time.Sleep(300 * time.Millisecond) // the file now holds its first lines only
	out, err := c.apply("docker1")
	written := <-done
	t.Logf("apply, started while the file was written:\n%s", out)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if names, err := tunnelNames(c, "docker1"); err != nil || names != "gre-docker2 gre-docker3 gre-docker4" {
		t.Errorf("tunnels after apply: %q, %v; want the whole file's three", names, err)
	}
	t.Logf("the file's last line was written at %s", written.Format(time.StampMilli))
}
