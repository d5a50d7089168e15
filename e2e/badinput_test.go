package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBadInput proves that bad input changes nothing (docs/validation.md):
// an invalid topology file, an unknown host, a missing file, a file over the
// size limit and a usage error
// each exit with their status and a message naming the fault, on a fresh host
// and on a converged one, without touching OVSDB, docker0, the flows or the
// files.
func TestBadInput(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	const host = "docker1"
	log := rpcLog(t, c, host)

	// Two faults at once: an unknown encap (line 5) and a bad address (line 8).
	bad := filepath.Join(c.dir, "bad.yaml")
	badYAML := strings.Replace(labTopology("  encap: grx\n", 2), "address: 198.18.0.2,", "address: 198.18.0.300,", 1)
	if err := os.WriteFile(bad, []byte(badYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(c.dir, "missing.yaml")
	// A valid topology grown past the size limit by a comment (issue 19, item 7).
	big := filepath.Join(c.dir, "big.yaml")
	pad := strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", 5<<10)
	if err := os.WriteFile(big, []byte(labTopology("  encap: gre\n", 2)+pad), 0o644); err != nil {
		t.Fatal(err)
	}
	bigSize := len(labTopology("  encap: gre\n", 2)) + len(pad)
	cases := []struct {
		name  string
		path  string
		extra []string
		code  int
		want  []string
	}{
		{"invalid file", bad, nil, 1, []string{
			bad + `:5:10: network.encap: "grx" is not one of gre, vxlan`,
			bad + `:8:30: hosts[1].address: "198.18.0.300" is not an IP address`,
		}},
		{"unknown host", c.path, []string{"--host", "nosuch"}, 1, []string{
			fmt.Sprintf(`host "nosuch" is not in %s (known hosts: docker1, docker2)`, c.path),
		}},
		{"missing file", missing, nil, 1, []string{missing + ": no such file or directory"}},
		{"file too big", big, nil, 1, []string{fmt.Sprintf("%s: file is %d bytes, more than the limit of 4194304 (4 MiB", big, bigSize)}},
		{"unknown flag", c.path, []string{"--bogus"}, 2, []string{"unknown flag: --bogus"}},
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, tc := range cases {
			out, code := badApply(t, c, host, tc.path, tc.extra...)
			if code != tc.code {
				t.Errorf("%s: exit status %d, want %d\n%s", tc.name, code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
				}
			}
			if ch := idemChanges(out); len(ch) > 0 {
				t.Errorf("%s: apply printed changes:\n%s", tc.name, strings.Join(ch, "\n"))
			}
		}
	}

	t.Run("on a fresh host", func(t *testing.T) { badFreshUnchanged(t, c, host, log, check) })

	c.mustApply()

	t.Run("on a converged host", func(t *testing.T) {
		before := badState(t, c, host)
		w := idemStart(t, c, host, log)
		check(t)
		seen := w.end(t)
		seen.wantNothing(t)
		badCompare(t, before, badState(t, c, host))
		if out, err := c.apply(host); err != nil || len(idemChanges(out)) != 0 || !strings.Contains(out, "nothing to change") {
			t.Errorf("valid apply after the bad input: %v\n%s", err, out)
		}
	})
}

// badApply runs `ovsmesh apply PATH` for host as c.applyCmd does, with another
// topology path, and returns its output and exit status.
func badApply(t *testing.T, c *cluster, host, path string, extra ...string) (string, int) {
	t.Helper()
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{ovsmeshBin, "apply", path, "--host", host, "--db", h.DB(),
		"--interfaces", filepath.Join(c.dir, host, "interfaces"),
		"--daemon-json", filepath.Join(c.dir, host, "daemon.json")}, extra...)
	out, err := h.Command(ctx, argv...).CombinedOutput()
	code := exitCode(err)
	if code < 0 {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out), code
}

// badHostState is what a host looks like to ovsmesh, without counters.
type badHostState struct {
	bridges, nextCfg, rows, flows, links, addrs, files string
}

func (s badHostState) String() string {
	return fmt.Sprintf("bridges: %s\nnext_cfg: %s\nrows:\n%s\nflows:\n%s\nlinks:\n%s\naddresses:\n%s\nfiles:\n%s",
		s.bridges, s.nextCfg, s.rows, s.flows, s.links, s.addrs, s.files)
}

// badState reads host's bridges, OVSDB rows (with UUIDs), next_cfg (which every
// configuration transaction increments), br0's flows, links, IPv4 addresses
// and both files (content, inode and times).
func badState(t *testing.T, c *cluster, host string) badHostState {
	t.Helper()
	var s badHostState
	s.bridges = strings.ReplaceAll(c.vsctl(host, "list-br"), "\n", " ")
	s.nextCfg = c.vsctl(host, "get", "open_vswitch", ".", "next_cfg")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := hostRows(ctx, c.host(host), true, true)
	if err != nil {
		t.Fatal(err)
	}
	s.rows = strings.Join(rows, "\n")
	if strings.Contains(" "+s.bridges+" ", " br0 ") {
		var flows []string
		for f := range flowTable(t, c, host) {
			flows = append(flows, f)
		}
		slices.Sort(flows)
		s.flows = strings.Join(flows, "\n")
	}
	ns := c.host(host).NS
	links, err := ipLinks(ctx, c.host(host), "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	var ls []string
	for _, l := range links {
		ls = append(ls, fmt.Sprintf("%s mtu %d master %q up %v", l.Name, l.MTU, l.Master, slices.Contains(l.Flags, "UP")))
	}
	slices.Sort(ls)
	s.links = strings.Join(ls, "\n")
	s.addrs = idemIP(t, "-n", ns, "-4", "-o", "addr", "show")
	var files []string
	for _, f := range idemFiles(c, host) {
		info := idemStat(t, f)
		if !info.exists {
			files = append(files, f+": absent")
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fmt.Sprintf("%s: exists %+v\n%s", f, info, b))
	}
	s.files = strings.Join(files, "\n")
	return s
}

// badCompare fails the test unless nothing changed.
func badCompare(t *testing.T, before, after badHostState) {
	t.Helper()
	if before != after {
		t.Errorf("the host changed; before:\n%s\nafter:\n%s", before, after)
	}
}

// badFreshUnchanged runs check on a host where ovsmesh never ran and fails the test
// if check sent an OVSDB transaction, changed anything badState sees, or left
// anything of ovsmesh's behind.
func badFreshUnchanged(t *testing.T, c *cluster, host string, log *ovsdbLog, check func(*testing.T)) {
	t.Helper()
	before := badState(t, c, host)
	mark := log.mark(t)
	check(t)
	if tx := log.read(t, mark).transacts; len(tx) > 0 {
		t.Errorf("%d OVSDB transact requests, want none:\n%s", len(tx), strings.Join(tx, "\n"))
	}
	after := badState(t, c, host)
	badCompare(t, before, after)
	if after.bridges != "br-phy" || strings.Contains(after.links, "docker0") || strings.Contains(after.files, ": exists {") {
		t.Errorf("state after refused input on a fresh host:\n%s", after)
	}
}
