package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/internal/testenv"
)

// withDocker is the flags that make ovsmesh read and write what host's real
// dockerd uses: its daemon.json and its API.
func withDocker(h *lab.Host) []string {
	return []string{"--daemon-json", h.DaemonJSON(), "--docker-host", h.DockerHost()}
}

// startDocker starts host's dockerd with daemon.json content (none: {}).
func startDocker(t *testing.T, h *lab.Host, daemonJSON string) {
	t.Helper()
	testenv.RequireBinaries(t, lab.DockerBinaries()...)
	if daemonJSON != "" {
		if err := os.WriteFile(h.DaemonJSON(), []byte(daemonJSON), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := h.StartDocker(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd on %s up in %v", h.Name, time.Since(start).Round(time.Millisecond))
}

// TestDockerDiffers: Docker started with daemon.json {} on docker2, whose plan
// puts the gateway at 172.17.0.2: a one-shot apply exits 1 naming every
// difference and the fix, status shows Docker's network beside the plan, and a
// loop's /healthz is 503 with the reason (counted in the metrics). Once Docker
// restarts and reads the daemon.json apply wrote, apply exits 0, status matches
// and /healthz is 200.
func TestDockerDiffers(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	h := c.host("docker2")
	startDocker(t, h, "")
	c.mustApply("docker1")
	out, err := c.apply("docker2", withDocker(h)...)
	t.Logf("apply while Docker runs with {}:\n%s", out)
	for _, want := range []string{
		`docker: Docker's network "bridge" has gateway none, the plan 172.17.0.2; `,
		`Docker's network "bridge" has IP range none (the whole subnet), the plan 172.17.32.0/20; `,
		`Docker's network "bridge" has MTU 1500, the plan 1450: restart Docker to apply daemon.json (it holds the plan; Docker reads it only when it starts)`,
	} {
		if exitCode(err) != 1 || !strings.Contains(out, want) {
			t.Errorf("apply: exit %d, lacks %q", exitCode(err), want)
		}
	}
	out, err = c.dockerStatus("docker2")
	t.Logf("status:\n%s", out)
	for _, want := range []string{
		"docker: network \"bridge\" on docker0 (" + h.DockerHost() + ")",
		"  gateway   none           172.17.0.2",
		"  ip range  none           172.17.32.0/20",
		"  mtu       1500           1450",
		`  differs: Docker's network "bridge" has gateway none, the plan 172.17.0.2`,
		"drift: nothing for apply to change, but the host does not match the plan (see above)",
	} {
		if exitCode(err) != 1 || !strings.Contains(out, want) {
			t.Errorf("status: exit %d, lacks %q", exitCode(err), want)
		}
	}
	dockerStatusJSON(t, c, 3)

	loop := launchLoop(t, c, "docker2", loopOpts{args: withDocker(h)})
	code, body := waitHealth(t, loop, http.StatusServiceUnavailable, `last pass failed: docker: Docker's network "bridge" has gateway none, the plan 172.17.0.2`)
	t.Logf("/healthz %d %q", code, body)
	if n := loop.metrics(t)[`ovsmesh_pass_failures_total{subsystem="docker"}`]; n < 1 {
		t.Errorf("docker failures counted: %v", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.RestartDocker(ctx); err != nil {
		t.Fatal(err)
	}
	code, body = waitHealth(t, loop, http.StatusOK, "")
	t.Logf("after Docker restarted: /healthz %d %q", code, body)
	loop.stop(t)
	if out, err = c.apply("docker2", withDocker(h)...); err != nil || !strings.Contains(out, "docker2: matches the plan, nothing to change") {
		t.Errorf("apply after the restart: %v\n%s", err, out)
	}
	if out, err = c.dockerStatus("docker2"); err != nil || !strings.Contains(out, "  gateway   172.17.0.2      172.17.0.2\n") ||
		!strings.Contains(out, "  matches the plan\n") || !strings.Contains(out, "drift: none, the host matches the plan") {
		t.Errorf("status after the restart: %v\n%s", err, out)
	}
	out, err = c.check("docker2", withDocker(h)...)
	t.Logf("check after the restart:\n%s", out)
	if want := `ok       docker network on docker0: Docker 20.10.24+dfsg1 (API 1.41) at ` + h.DockerHost() +
		` reports network "bridge" as planned: gateway 172.17.0.2, subnet 172.17.0.0/16, IP range 172.17.32.0/20, MTU 1450`; err != nil || !strings.Contains(out, want) {
		t.Errorf("check after the restart: %v, lacks %q", err, want)
	}
}

// dockerStatus runs `ovsmesh status` with the topology on host and its Docker.
func (c *cluster) dockerStatus(host string, extra ...string) (string, error) {
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{ovsmeshBin, "status", c.path, "--host", host, "--db", h.DB(), "--interfaces", c.dir + "/" + host + "/interfaces"},
		append(withDocker(h), extra...)...)
	out, err := h.Command(ctx, argv...).Output()
	return string(out), err
}

// dockerStatusJSON: -o json carries Docker's network, the plan and the differences.
func dockerStatusJSON(t *testing.T, c *cluster, differences int) {
	t.Helper()
	out, _ := c.dockerStatus("docker2", "-o", "json")
	var rep struct {
		Docker struct {
			Network struct {
				Gateway string `json:"gateway"`
				MTU     int    `json:"mtu"`
			} `json:"network"`
			Plan struct {
				Gateway string `json:"gateway"`
			} `json:"plan"`
			Differences []string `json:"differences"`
		} `json:"docker_network"`
		Matches *bool `json:"matches_plan"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	d := rep.Docker
	if d.Network.MTU != 1500 || d.Plan.Gateway != "172.17.0.2" || len(d.Differences) != differences || rep.Matches == nil || *rep.Matches {
		t.Errorf("status -o json: %+v matches %v", d, rep.Matches)
	}
}

// waitHealth waits up to 30s for /healthz to answer code with a body that
// contains want.
func waitHealth(t *testing.T, p *loopProc, code int, want string) (int, string) {
	t.Helper()
	var got int
	var body string
	_, ok := poll(30*time.Second, func() bool {
		var err error
		got, body, err = p.get("/healthz")
		return err == nil && got == code && strings.Contains(body, want)
	})
	p.mustBeAlive(t)
	if !ok {
		t.Fatalf("loop on %s: /healthz %d %q, want %d %q", p.host, got, body, code, want)
	}
	return got, strings.TrimSpace(body)
}

// TestCheckDockerICC: check reports icc false in daemon.json and in what
// Docker reports as a problem with its fix; a Docker that is not running is a
// warning.
func TestCheckDockerICC(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	h := c.host("docker1")
	out, err := c.check("docker1", withDocker(h)...)
	t.Logf("no Docker:\n%s", out)
	if err != nil || !strings.Contains(out, "warning  docker network on docker0: Docker not reachable at "+h.DockerHost()+": ") {
		t.Errorf("no Docker: %v", err)
	}
	startDocker(t, h, `{"icc": false}`)
	out, err = c.check("docker1", withDocker(h)...)
	t.Logf("icc false:\n%s", out)
	for _, want := range []string{
		`problem  docker icc: ` + h.DaemonJSON() + ` sets "icc": false; Docker's network "bridge" reports enable_icc false: ` +
			`the plan needs icc on: Docker's inter-container DROP rule in the FORWARD chain (-i docker0 -o docker0 -j DROP) also drops the mesh's traffic`,
		`fix: drop "icc": false from daemon.json and restart Docker, or accept the mesh's frames in DOCKER-USER`,
		"problem  docker network on docker0: Docker 20.10.",
	} {
		if exitCode(err) != 1 || !strings.Contains(out, want) {
			t.Errorf("icc false: exit %d, lacks %q", exitCode(err), want)
		}
	}
}

// TestDockerReadyWhileDockerDiffers: the loop tells systemd it is ready although
// Docker's network differs from the plan (Docker's start, or its restart to read
// daemon.json, waits for that), and its status line says what differs; once
// Docker restarted, the status says converged.
func TestDockerReadyWhileDockerDiffers(t *testing.T) {
	c := newCluster(t, labTopology("", 2))
	h := c.host("docker2")
	startDocker(t, h, "")
	sock := listenNotify(t, func() string { return "" })
	p := launchLoop(t, c, "docker2", loopOpts{args: withDocker(h), notify: sock.path})
	if _, ok := poll(30*time.Second, func() bool { _, ok := sock.find("READY=1"); return ok || !p.alive() }); !ok {
		t.Fatalf("no READY=1 within 30s; messages: %q", joinTexts(sock.messages()))
	}
	p.mustBeAlive(t)
	ready, _ := sock.find("READY=1")
	t.Logf("READY message: %q", ready.text)
	if !strings.Contains(ready.text, `STATUS=last pass failed: docker: Docker's network "bridge" has gateway none, the plan 172.17.0.2`) {
		t.Errorf("READY message %q does not say what differs", ready.text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.RestartDocker(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := poll(30*time.Second, func() bool { _, ok := sock.find("STATUS=converged: 1 tunnels"); return ok }); !ok {
		t.Errorf("no STATUS=converged after Docker's restart; messages: %q", joinTexts(sock.messages()))
	}
	if n := strings.Count(joinTexts(sock.messages()), "READY=1"); n != 1 {
		t.Errorf("READY=1 sent %d times, want once", n)
	}
}
