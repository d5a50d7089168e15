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
// three hosts of a mesh, a real compose file (Debian's docker-compose) attaches
// services to them on two of them (so that every broadcast floods to two peers); services on the same ovsmesh network talk across hosts,
// services on different networks cannot (not even with an address of the other
// network), containers on docker0 reach neither; the next apply changes nothing.
func TestComposeNetworks(t *testing.T) {
	lab.RequireBinaries(t, "docker-compose")
	c := newDockerCluster(t, composeNetworks(3))
	hosts := []string{"docker1", "docker3"} // compose runs here; docker2 is a third host of the mesh
	all := []string{"docker1", "docker2", "docker3"}
	for _, h := range all {
		out, _ := c.apply(h, withDocker(c.host(h))...) // the docker step asks for a restart
		t.Logf("first apply on %s:\n%s", h, out)
		if !strings.Contains(out, `create Docker network "app"`) || !strings.Contains(out, "attach ov-app to om-app") {
			t.Fatalf("first apply on %s made no network", h)
		}
	}
	c.eachHost(func(ctx context.Context, h *lab.Host) error { return h.RestartDocker(ctx) })
	for _, h := range all {
		if out, err := c.apply(h, withDocker(c.host(h))...); err != nil {
			t.Fatalf("apply on %s after the Docker restart: %v\n%s", h, err, out)
		}
		if h == "docker2" {
			continue
		}
		t.Logf("%s: docker network inspect app: %s", h, dockerOut(t, c.host(h), "network", "inspect", "-f",
			"{{range .IPAM.Config}}subnet {{.Subnet}} ip-range {{.IPRange}} gateway {{.Gateway}}{{end}} bridge {{index .Options \"com.docker.network.bridge.name\"}} mtu {{index .Options \"com.docker.network.driver.mtu\"}} labels {{json .Labels}}", "app"))
		composeUp(t, c, h)
	}
	plain := c.dockerRun("docker1", "plain", "--cap-add", "NET_ADMIN") // docker0
	web1, web2 := ctrAddr(t, c, "docker1", "web", "app"), ctrAddr(t, c, "docker3", "web", "app")
	db1, db2 := ctrAddr(t, c, "docker1", "db", "other"), ctrAddr(t, c, "docker3", "db", "other")
	t.Logf("web: docker1 %s, docker3 %s (network app); db: docker1 %s, docker3 %s (network other); plain on docker0 of docker1: %s",
		web1, web2, db1, db2, plain.Addr.Addr())

	reach := func(host, from, to, what string, want bool) {
		t.Helper()
		err := dockerPing(c, host, from, to)
		got := err == nil
		t.Logf("check: %s on %s -> %s (%s): answered %v, want %v", from, host, to, what, got, want)
		if got != want {
			t.Errorf("%s on %s -> %s (%s): answered %v, want %v (%v)", from, host, to, what, got, want, err)
		}
	}
	reach("docker1", "web", web2, "web on docker3, same network app", true)
	reach("docker3", "web", web1, "web on docker1, same network app", true)
	reach("docker1", "db", db2, "db on docker3, same network other", true)
	reach("docker1", "web", db2, "db on docker3, network other", false)
	reach("docker1", "db", web2, "web on docker3, network app", false)
	reach("docker1", "plain", web2, "web on docker3, from docker0", false)
	reach("docker1", "plain", web1, "web on docker1, from docker0", false)
	// web takes an address of network other's slice on its own interface: its
	// frames still cross the mesh in network app, which never delivers them to
	// network other.
	dockerOut(t, c.host("docker1"), "exec", "web", "ip", "addr", "add", "10.30.1.200/16", "dev", "eth0")
	reach("docker1", "web", db2, "db on docker3, with an address of network other on web's interface", false)
	// The same from docker0 with an address of network app: docker0's frames
	// never reach a network.
	dockerOut(t, c.host("docker1"), "exec", "plain", "ip", "addr", "add", "10.20.1.200/16", "dev", "eth0")
	reach("docker1", "plain", web2, "web on docker3, from docker0 with an address of network app on plain's interface", false)

	for _, h := range all {
		out, err := c.apply(h, withDocker(c.host(h))...)
		t.Logf("second apply on %s: %s", h, strings.TrimSpace(out))
		if err != nil || !strings.Contains(out, "nothing to change") {
			t.Errorf("second apply on %s: %v\n%s", h, err, out)
		}
	}

	// The host firewall drops tunnel packets from the networks' containers too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	nft, nftErr := c.host("docker1").Run(ctx, "nft", "list", "table", "inet", "ovsmesh")
	cancel()
	for _, rule := range []string{`iifname "om-app" meta l4proto gre`, `iifname "om-other" oifname != "om-other" meta l4proto gre`, `ip saddr 10.30.0.0/16 udp dport 4789`} {
		t.Logf("check: firewall on docker1 has %s: %v", rule, strings.Contains(nft, rule))
		if nftErr != nil || !strings.Contains(nft, rule) {
			t.Errorf("nft list table inet ovsmesh on docker1: %v, no %q:\n%s", nftErr, rule, nft)
		}
	}

	// Docker's embedded DNS knows its own host's containers only.
	c.dockerRun("docker3", "api", "--network", "app")
	for _, h := range hosts {
		out, err := c.host(h).Docker(context.Background(), "exec", "web", "nslookup", "api")
		t.Logf("check: DNS: web on %s looks up api (on docker3's network app): %v\n%s", h, err, strings.TrimSpace(out))
		if resolved := err == nil && strings.Contains(out, "10.20.3."); resolved != (h == "docker3") {
			t.Errorf("web on %s resolved api: %v, want %v", h, resolved, h == "docker3")
		}
	}

	// A Docker restart: web (restart: always) comes back on the same network.
	took := c.restartDocker("docker3")
	out, err := c.apply("docker3", withDocker(c.host("docker3"))...)
	t.Logf("Docker restarted on docker3 in %v; apply then: %v\n%s", took.Round(time.Millisecond), err, strings.TrimSpace(out))
	if err != nil {
		t.Errorf("apply after the Docker restart: %v", err)
	}
	web2 = ctrAddr(t, c, "docker3", "web", "app")
	reach("docker1", "web", web2, "web on docker3 after its Docker restarted", true)

	// A network added to the file: how long until containers on two hosts ping on it.
	start := time.Now()
	c.write(composeNetworks(3) + "  - {name: late, subnet: 10.40.0.0/16}\n")
	for _, h := range all {
		if out, err := c.apply(h, withDocker(c.host(h))...); err != nil {
			t.Fatalf("apply of the new network on %s: %v\n%s", h, err, out)
		}
	}
	applied := time.Since(start)
	c.dockerRun("docker1", "late1", "--network", "late")
	late3 := c.dockerRun("docker3", "late3", "--network", "late")
	var pingErr error
	for range 50 {
		if pingErr = dockerPing(c, "docker1", "late1", late3.Addr.Addr().String()); pingErr == nil {
			break
		}
	}
	t.Logf("check: network late added to the file: applied on 3 hosts in %v; containers on docker1 and docker3 ping on it %v after the file changed (%v)",
		applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), pingErr)
	if pingErr != nil {
		t.Errorf("late1 -> late3: %v", pingErr)
	}
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
