package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkNetworkAdded (make bench): the time from a Docker network added to
// the topology file to containers on two hosts pinging on it — the one-shot
// applies on the three hosts, `docker run` of one container on each of two hosts
// on the new network, then pings until one answers — against the floor measured
// in the same run on the same lab: `docker run` of two containers on docker0,
// already meshed, and pings until one answers (what adding a network cannot go
// below without ovsmesh doing anything). Each round adds one more network.
func BenchmarkNetworkAdded(b *testing.B) {
	c := newDockerCluster(b, composeNetworks(3))
	all := []string{"docker1", "docker2", "docker3"}
	applyAll := func() {
		for _, h := range all {
			if out, err := c.apply(h, withDocker(c.host(h))...); err != nil {
				b.Fatalf("apply on %s: %v\n%s", h, err, out)
			}
		}
	}
	for _, h := range all { // the first apply asks for a Docker restart
		_, _ = c.apply(h, withDocker(c.host(h))...)
	}
	c.restartDocker("docker1")
	c.restartDocker("docker2")
	c.restartDocker("docker3")
	applyAll()
	file := composeNetworks(3)
	var added, applied, floor time.Duration
	rounds := 0
	for i := 0; b.Loop(); i++ {
		// The floor: two containers on docker0, meshed already.
		start := time.Now()
		c.dockerRun("docker1", fmt.Sprintf("f%d1", i))
		f3 := c.dockerRun("docker3", fmt.Sprintf("f%d3", i))
		firstPing(b, c, "docker1", fmt.Sprintf("f%d1", i), f3.Addr.Addr().String())
		floor += time.Since(start)

		name := fmt.Sprintf("late%d", i)
		file += fmt.Sprintf("  - {name: %s, subnet: 10.%d.0.0/16}\n", name, 40+i)
		start = time.Now()
		c.write(file)
		applyAll()
		applied += time.Since(start)
		c.dockerRun("docker1", name+"a", "--network", name)
		l3 := c.dockerRun("docker3", name+"b", "--network", name)
		firstPing(b, c, "docker1", name+"a", l3.Addr.Addr().String())
		added += time.Since(start)
		rounds++
	}
	n := float64(rounds)
	b.ReportMetric(added.Seconds()/n, "s/network-to-ping")
	b.ReportMetric(applied.Seconds()/n, "s/applies")
	b.ReportMetric(floor.Seconds()/n, "s/docker0-floor")
	b.ReportMetric(added.Seconds()/floor.Seconds(), "x-floor")
	b.Logf("%d rounds: a network added to the file until containers on docker1 and docker3 ping on it %v per round (the three applies %v), the floor (docker run of two docker0 containers until they ping) %v: %.2f× the floor",
		rounds, (added / time.Duration(rounds)).Round(time.Millisecond), (applied / time.Duration(rounds)).Round(time.Millisecond),
		(floor / time.Duration(rounds)).Round(time.Millisecond), added.Seconds()/floor.Seconds())
}

// firstPing pings to from container from on host every 100 ms (each waiting up
// to 1 s) until one answers, within 30 s.
func firstPing(b *testing.B, c *cluster, host, from, to string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := c.host(host).Docker(ctx, "exec", from, "ping", "-c", "1", "-W", "1", to)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s on %s -> %s: no answer within 30s: %v\n%s", from, host, to, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
