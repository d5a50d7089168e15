package e2e

import (
	"context"
	"strings"
	"time"
)

// firewall: the host firewall drops tunnel packets from the networks'
// containers too.
func (l *composeLab) firewall() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nft, err := l.c.host("docker1").Run(ctx, "nft", "list", "table", "inet", "ovsmesh")
	for _, rule := range []string{`iifname "om-app" meta l4proto gre`, `iifname "om-other" oifname != "om-other" meta l4proto gre`, `ip saddr 10.30.0.0/16 udp dport 4789`} {
		l.t.Logf("check: firewall on docker1 has %s: %v", rule, strings.Contains(nft, rule))
		if err != nil || !strings.Contains(nft, rule) {
			l.t.Errorf("nft list table inet ovsmesh on docker1: %v, no %q:\n%s", err, rule, nft)
		}
	}
}

// dns: Docker's embedded DNS knows its own host's containers only.
func (l *composeLab) dns() {
	l.c.dockerRun("docker3", "api", "--network", "app")
	for _, h := range l.compose {
		out, err := l.c.host(h).Docker(context.Background(), "exec", "web", "nslookup", "api")
		l.t.Logf("check: DNS: web on %s looks up api (on docker3's network app): %v\n%s", h, err, strings.TrimSpace(out))
		if resolved := err == nil && strings.Contains(out, "10.20.3."); resolved != (h == "docker3") {
			l.t.Errorf("web on %s resolved api: %v, want %v", h, resolved, h == "docker3")
		}
	}
}

// dockerRestart: after a Docker restart, web (restart: always) is back on the
// same network and apply changes nothing but the identity checks (Docker gave
// the containers new veths; db, without a restart policy, is gone).
func (l *composeLab) dockerRestart() {
	took := l.c.restartDocker("docker3")
	out, err := l.c.apply("docker3", withDocker(l.c.host("docker3"))...)
	l.t.Logf("Docker restarted on docker3 in %v; apply then: %v\n%s", took.Round(time.Millisecond), err, strings.TrimSpace(out))
	if err != nil || !onlyIdentity(out, "docker3") {
		l.t.Errorf("apply after the Docker restart: %v: changed more than the identity checks\n%s", err, out)
	}
	web3 := ctrAddr(l.t, l.c, "docker3", "web", "app")
	l.reach("docker1", "web", web3, "web on docker3 after its Docker restarted", true)
}

// networkAdded: a network added to the file, timed until containers on two
// hosts ping on it.
func (l *composeLab) networkAdded() {
	t, c := l.t, l.c
	start := time.Now()
	c.write(composeNetworks(3) + "  - {name: late, subnet: 10.40.0.0/16}\n")
	for _, h := range l.all {
		if out, err := c.apply(h, withDocker(c.host(h))...); err != nil {
			t.Fatalf("apply of the new network on %s: %v\n%s", h, err, out)
		}
	}
	applied := time.Since(start)
	c.dockerRun("docker1", "late1", "--network", "late")
	late3 := c.dockerRun("docker3", "late3", "--network", "late")
	var err error
	for range 50 {
		if err = dockerPing(c, "docker1", "late1", late3.Addr.Addr().String()); err == nil {
			break
		}
	}
	t.Logf("check: network late added to the file: applied on 3 hosts in %v; containers on docker1 and docker3 ping on it %v after the file changed (%v)",
		applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), err)
	if err != nil {
		t.Errorf("late1 -> late3: %v", err)
	}
}
