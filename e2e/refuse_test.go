package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// refused is a topology file that validation must refuse, and the lines its error
// output must contain. Host docker1 of every file is the lab's docker1.
type refused struct {
	name string
	path string
	want []string
}

// Hints and ways out, as the messages word them.
const (
	refuseHintKey  = " (this line does not continue the mapping above it: check its indentation)"
	refuseHintSeq  = " (a '[' is not closed by ']', or an item lacks its ',')"
	refuseHintTab  = " (indent with spaces: YAML forbids tabs there)"
	refuseLoops    = "OVS would leave the other tunnels outside the spanning tree, forwarding, and the mesh would loop"
	refuseWaysSTP  = "set network.rstp: true (RSTP handles 4095 ports), or use mode tree or mode mesh"
	refuseWaysRSTP = "use mode tree or mode mesh"
	refuseInSubnet = "every host routes that subnet to docker0, so the tunnel packets to this address would go to the containers instead of over the underlay; choose a subnet that holds no host's address"
)

// refusedFiles writes into dir one file per refusal: YAML syntax errors, which
// must name the line of the mistake (yaml.v3 alone names an earlier line), an
// underlay address inside the container subnet, and stp meshes whose hosts have
// more tunnels than STP or RSTP can number.
func refusedFiles(t *testing.T, dir string) []refused {
	t.Helper()
	lab := labTopology("  encap: gre\n", 2) // docker1 on line 7, docker2 on line 8
	files := []struct {
		name, yaml string
		want       []string
	}{
		{"stray-key", lab + " stray: 1\n", []string{
			":9:2: invalid YAML: did not find expected key" + refuseHintKey}},
		{"unclosed-bracket", strings.Replace(lab, "index: 2}", "index: [2}", 1), []string{
			":8:3: invalid YAML: did not find expected ',' or ']'" + refuseHintSeq}},
		{"tab", strings.Replace(lab, "  encap: gre", "\tencap: gre", 1), []string{
			":5:1: invalid YAML: found a tab character that violates indentation" + refuseHintTab}},
		{"address-in-subnet", strings.Replace(lab, "subnet: 172.17.0.0/16", "subnet: 198.18.0.0/16", 1), []string{
			":7:30: hosts[0].address: 198.18.0.1 lies inside network.subnet 198.18.0.0/16: " + refuseInSubnet,
			":8:30: hosts[1].address: 198.18.0.2 lies inside network.subnet 198.18.0.0/16: " + refuseInSubnet}},
		{"stp-300-hosts", refuseMesh("", 300, false), []string{
			":8:5: hosts[0]: docker1 would have 299 tunnels, as would each of the other 299 hosts (mode stp without links joins every pair), but 802.1D STP handles at most 255 ports per bridge: " +
				refuseLoops + "; " + refuseWaysSTP + ", or list links"}},
		{"stp-hub-256-links", refuseMesh("", 257, true), []string{
			":8:5: hosts[0]: docker1 would have 256 tunnels (one per host its links join it to), but 802.1D STP handles at most 255 ports per bridge: " +
				refuseLoops + "; " + refuseWaysSTP + ", or list fewer links for it"}},
		{"rstp-4097-hosts", refuseMesh("  rstp: true\n", 4097, false), []string{
			":9:5: hosts[0]: docker1 would have 4096 tunnels, as would each of the other 4096 hosts (mode stp without links joins every pair), but RSTP handles at most 4095 ports per bridge: " +
				refuseLoops + "; " + refuseWaysRSTP + ", or list links"}},
	}
	var out []refused
	for _, f := range files {
		path := filepath.Join(dir, f.name+".yaml")
		if err := os.WriteFile(path, []byte(f.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		r := refused{name: f.name, path: path}
		for _, w := range f.want {
			r.want = append(r.want, path+w)
		}
		out = append(out, r)
	}
	return out
}

// refuseMesh is an n-host stp topology, docker1 (hosts[0], line 8, or 9 with one
// extra network line) at the lab's 198.18.0.1; with star, links join docker1 to
// every other host. 240.0.0.0/4 (reserved) with /18 slices holds 16383 hosts.
func refuseMesh(extra string, n int, star bool) string {
	var b strings.Builder
	b.WriteString("network:\n  datapath: netdev\n  encap: gre\n  mode: stp\n" + extra + "  subnet: 240.0.0.0/4\n  slice_prefix: 18\nhosts:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: docker%d, address: 198.18.%d.%d, index: %d}\n", i, i>>8, i&255, i)
	}
	if star {
		b.WriteString("links:\n")
		for i := 2; i <= n; i++ {
			fmt.Fprintf(&b, "  - {a: docker1, b: docker%d}\n", i)
		}
	}
	return b.String()
}

// TestRefuseValidate: `ovsmesh validate` exits 1 on each refused file and names
// the fault at its line. It needs no lab.
func TestRefuseValidate(t *testing.T) {
	t.Parallel()
	for _, f := range refusedFiles(t, t.TempDir()) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, ovsmeshBin, "validate", f.path).CombinedOutput()
		cancel()
		if code := exitCode(err); code != 1 {
			t.Errorf("%s: exit status %d (%v), want 1\n%s", f.name, code, err, out)
		}
		if got, want := strings.TrimSpace(string(out)), strings.Join(f.want, "\n"); got != want {
			t.Errorf("%s: output\n%s\nwant\n%s", f.name, got, want)
		}
	}
}

// TestRefuseApply: `ovsmesh apply` with each refused file exits 1 with the same
// message and changes nothing, on a fresh host and on a converged one: no OVSDB
// transaction, no flow, link or address change, no file written.
func TestRefuseApply(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("  encap: gre\n", 2))
	const host = "docker1"
	log := rpcLog(t, c, host)
	files := refusedFiles(t, t.TempDir())
	check := func(t *testing.T) {
		t.Helper()
		for _, f := range files {
			out, code := badApply(t, c, host, f.path)
			if code != 1 {
				t.Errorf("%s: exit status %d, want 1\n%s", f.name, code, out)
			}
			if want := strings.Join(f.want, "\n"); !strings.Contains(out, want) || strings.Count(out, f.path+":") != len(f.want) {
				t.Errorf("%s: output\n%s\nwant exactly these problems:\n%s", f.name, out, want)
			}
			if ch := idemChanges(out); len(ch) > 0 {
				t.Errorf("%s: apply printed changes:\n%s", f.name, strings.Join(ch, "\n"))
			}
		}
	}

	t.Run("on a fresh host", func(t *testing.T) { badFreshUnchanged(t, c, host, log, check) })

	c.mustApply(host)

	t.Run("on a converged host", func(t *testing.T) {
		before := badState(t, c, host)
		w := idemStart(t, c, host, log)
		check(t)
		w.end(t).wantNothing(t)
		badCompare(t, before, badState(t, c, host))
	})
}

// TestSTPPortLimitOfOVS shows the limit validation enforces on the OVS installed
// here: of 256 tunnels on a bridge with stp_enable, ovs-vswitchd takes 255 into
// 802.1D STP and logs "too many STP ports, disabling" for the other, which gets
// no STP state; with rstp_enable it refuses none of 256.
func TestSTPPortLimitOfOVS(t *testing.T) {
	t.Parallel()
	c := newCluster(t, labTopology("", 1))
	for _, proto := range []string{"stp", "rstp"} {
		args := []string{"--", "add-br", "br-" + proto, "--", "set", "bridge", "br-" + proto, "datapath_type=netdev", proto + "_enable=true"}
		for i := 1; i <= 256; i++ {
			p := fmt.Sprintf("%s%d", proto, i)
			args = append(args, "--", "add-port", "br-"+proto, p, "--", "set", "interface", p, "type=gre",
				fmt.Sprintf("options:remote_ip=198.19.%d.%d", i>>8, i&255))
		}
		c.vsctl("docker1", args...) // returns once ovs-vswitchd has applied it
	}
	// ovs-vswitchd writes the ports' STP status a moment later.
	var out string
	with := 0
	poll(20*time.Second, func() bool {
		out = c.vsctl("docker1", "--format=csv", "--data=bare", "--no-headings", "--columns=name,status", "find", "port")
		with = strings.Count(out, "stp_state=")
		return with >= 255
	})
	t.Logf("%d of 256 ports have an STP state", with)
	if with != 255 {
		t.Errorf("%d of 256 ports have an STP state, want 255:\n%s", with, out)
	}
	log, err := os.ReadFile(filepath.Join(c.host("docker1").RunDir, "ovs-vswitchd.log"))
	if err != nil {
		t.Fatal(err)
	}
	refused := regexp.MustCompile(`port (\S+): too many STP ports, disabling`).FindAllStringSubmatch(string(log), -1)
	if len(refused) == 0 {
		t.Errorf("ovs-vswitchd never logged \"too many STP ports\"; its log:\n%s", log)
	}
	for _, m := range refused {
		if m[1] != refused[0][1] {
			t.Errorf("ovs-vswitchd refused STP to %s and to %s, want one port only", refused[0][1], m[1])
		}
	}
	if strings.Contains(string(log), "too many RSTP ports") {
		t.Errorf("ovs-vswitchd refused an RSTP port of 256; its log:\n%s", log)
	}
}
