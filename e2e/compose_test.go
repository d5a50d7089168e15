package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// composeNetworks is the topology of TestComposeNetworks: a GRE mesh with the two
// networks the compose file names.
func composeNetworks(n int) string {
	return labTopology("  mode: mesh\n  encap: gre\n", n) +
		"networks:\n  - {name: app, subnet: 10.20.0.0/16}\n  - {name: other, subnet: 10.30.0.0/16}\n"
}

// composeFile runs one service on each network, as users attach compose to
// networks made beforehand. web may add an address (NET_ADMIN) for the
// layer-2 check.
var composeFile = `version: "3.7"
services:
  web:
    image: ` + lab.DockerImage + `
    container_name: web
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000000 & wait"]
    cap_add: [NET_ADMIN]
    restart: always
    networks: [app]
  db:
    image: ` + lab.DockerImage + `
    container_name: db
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000000 & wait"]
    networks: [other]
networks:
  app: {external: true}
  other: {external: true}
`

// TestComposeNetworks: apply creates the Docker networks app and other on the
// three hosts of a mesh, and a real compose file (Debian's docker-compose)
// attaches services to them on two of them (so that every broadcast floods to
// two peers). Services on the same ovsmesh network talk across hosts, services
// on different networks cannot (not even with an address of the other network),
// containers on docker0 reach neither; the next apply changes nothing. Then: the
// host firewall covers the networks, Docker's DNS knows its own host only, a
// Docker restart keeps the network, and a network added to the file is timed
// until containers ping on it.
func TestComposeNetworks(t *testing.T) {
	lab.RequireBinaries(t, "docker-compose")
	l := &composeLab{t: t, c: newDockerCluster(t, composeNetworks(3)),
		compose: []string{"docker1", "docker3"}, all: []string{"docker1", "docker2", "docker3"}}
	l.setUp()
	l.isolation()
	l.applyAgain()
	l.firewall()
	l.dns()
	l.dockerRestart()
	l.networkAdded()
}

// composeLab is TestComposeNetworks's lab: compose runs on two of the hosts,
// the third (docker2) only meshes.
type composeLab struct {
	t            *testing.T
	c            *cluster
	compose, all []string
}

// setUp applies on every host (the first apply creates the networks; its docker
// step asks for a Docker restart), restarts Docker, applies again and runs the
// compose file.
func (l *composeLab) setUp() {
	t, c := l.t, l.c
	for _, h := range l.all {
		out, _ := c.apply(h, withDocker(c.host(h))...)
		t.Logf("first apply on %s:\n%s", h, out)
		if !strings.Contains(out, `create Docker network "app"`) || !strings.Contains(out, "attach ov-app to om-app") {
			t.Fatalf("first apply on %s made no network", h)
		}
	}
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	for _, h := range l.all {
		if out, err := c.apply(h, withDocker(c.host(h))...); err != nil {
			t.Fatalf("apply on %s after the Docker restart: %v\n%s", h, err, out)
		}
	}
	for _, h := range l.compose {
		t.Logf("%s: docker network inspect app: %s", h, dockerOut(t, c.host(h), "network", "inspect", "-f",
			"{{range .IPAM.Config}}subnet {{.Subnet}} ip-range {{.IPRange}} gateway {{.Gateway}}{{end}} bridge {{index .Options \"com.docker.network.bridge.name\"}} mtu {{index .Options \"com.docker.network.driver.mtu\"}} labels {{json .Labels}}", "app"))
		composeUp(t, c, h)
	}
}

// reach pings to from container from on host and checks whether it answered.
func (l *composeLab) reach(host, from, to, what string, want bool) {
	l.t.Helper()
	err := dockerPing(l.c, host, from, to)
	got := err == nil
	l.t.Logf("check: %s on %s -> %s (%s): answered %v, want %v", from, host, to, what, got, want)
	if got != want {
		l.t.Errorf("%s on %s -> %s (%s): answered %v, want %v (%v)", from, host, to, what, got, want, err)
	}
}

// isolation: the same network talks across hosts; other networks and docker0
// do not, not even with a borrowed address at layer 2.
func (l *composeLab) isolation() {
	t, c := l.t, l.c
	plain := c.dockerRun("docker1", "plain", "--cap-add", "NET_ADMIN") // docker0
	web1, web3 := ctrAddr(t, c, "docker1", "web", "app"), ctrAddr(t, c, "docker3", "web", "app")
	db1, db3 := ctrAddr(t, c, "docker1", "db", "other"), ctrAddr(t, c, "docker3", "db", "other")
	t.Logf("web: docker1 %s, docker3 %s (network app); db: docker1 %s, docker3 %s (network other); plain on docker0 of docker1: %s",
		web1, web3, db1, db3, plain.Addr.Addr())
	l.reach("docker1", "web", web3, "web on docker3, same network app", true)
	l.reach("docker3", "web", web1, "web on docker1, same network app", true)
	l.reach("docker1", "db", db3, "db on docker3, same network other", true)
	l.reach("docker1", "web", db3, "db on docker3, network other", false)
	l.reach("docker1", "db", web3, "web on docker3, network app", false)
	l.reach("docker1", "plain", web3, "web on docker3, from docker0", false)
	l.reach("docker1", "plain", web1, "web on docker1, from docker0", false)
	// web takes an address of network other's slice on its own interface: its
	// frames still cross the mesh in network app, which never delivers them to
	// network other.
	dockerOut(t, c.host("docker1"), "exec", "web", "ip", "addr", "add", "10.30.1.200/16", "dev", "eth0")
	l.reach("docker1", "web", db3, "db on docker3, with an address of network other on web's interface", false)
	// The same from docker0 with an address of network app: docker0's frames
	// never reach a network.
	dockerOut(t, c.host("docker1"), "exec", "plain", "ip", "addr", "add", "10.20.1.200/16", "dev", "eth0")
	l.reach("docker1", "plain", web3, "web on docker3, from docker0 with an address of network app on plain's interface", false)
}

// applyAgain: with the containers running, the next apply on each host only
// adds the identity checks of the containers compose started (the first apply
// ran before them), and the one after changes nothing.
func (l *composeLab) applyAgain() {
	for _, h := range l.all {
		out, err := l.c.apply(h, withDocker(l.c.host(h))...)
		l.t.Logf("second apply on %s: %s", h, strings.TrimSpace(out))
		if err != nil || !onlyIdentity(out, h) {
			l.t.Errorf("second apply on %s: %v: changed more than the new containers' identity checks:\n%s", h, err, out)
		}
		out, err = l.c.apply(h, withDocker(l.c.host(h))...)
		l.t.Logf("third apply on %s: %s", h, strings.TrimSpace(out))
		if err != nil || !strings.Contains(out, "nothing to change") {
			l.t.Errorf("third apply on %s: %v\n%s", h, err, out)
		}
	}
}

// onlyIdentity says whether apply's output on host changed nothing but the
// identity checks (containers came, went or got new veths).
func onlyIdentity(out, host string) bool {
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "identity: ") && !strings.HasPrefix(line, host+": ") {
			return false
		}
	}
	return true
}

// composeUp runs `docker-compose up -d` of composeFile against host's dockerd.
func composeUp(t *testing.T, c *cluster, host string) {
	t.Helper()
	dir := filepath.Join(c.dir, host)
	file := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(file, []byte(composeFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", "-f", file, "-p", "meshtest", "up", "-d")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+c.host(host).DockerHost())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose up on %s: %v\n%s", host, err, out)
	}
	t.Logf("docker-compose up -d on %s:\n%s", host, strings.TrimSpace(string(out)))
}

// dockerOut runs the docker command line against host's dockerd.
func dockerOut(t *testing.T, h *lab.Host, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Docker(ctx, args...)
	if err != nil {
		t.Fatalf("docker %s on %s: %v\n%s", strings.Join(args, " "), h.Name, err, out)
	}
	return strings.TrimSpace(out)
}

// ctrAddr is container name's address on network, as Docker reports it.
func ctrAddr(t *testing.T, c *cluster, host, name, network string) string {
	t.Helper()
	return dockerOut(t, c.host(host), "inspect", "-f", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", network), name)
}

// dockerPing pings to from container from on host (docker exec), three tries.
func dockerPing(c *cluster, host, from, to string) error {
	var err error
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out string
		out, err = c.host(host).Docker(ctx, "exec", from, "ping", "-c", "1", "-W", "2", to)
		cancel()
		if err == nil {
			return nil
		}
		err = fmt.Errorf("%w: %s", err, out)
	}
	return err
}
