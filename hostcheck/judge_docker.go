package hostcheck

import (
	"fmt"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// DockerFacts is what probing Docker found: what it reports of its network on
// the plan's docker bridge (Engine API), and its daemon.json.
type DockerFacts struct {
	Host        string // the API's address
	Version     string // e.g. "20.10.24+dfsg1 (API 1.41)"
	Unreachable string // Docker did not answer: why ("Docker not reachable at ...")
	Err         string // Docker answered but could not be read (e.g. no network on the bridge)
	Network     topology.DockerNetwork
	Daemon      DaemonJSON
}

// JudgeDocker reports what Docker reports of its network against the plan,
// icc, and default-address-pools.
func JudgeDocker(want topology.DockerBridge, f DockerFacts) []Item {
	return []Item{judgeDockerNetwork(want, f), judgeICC(want, f), judgePools(want, f.Daemon)}
}

func judgeDockerNetwork(want topology.DockerBridge, f DockerFacts) Item {
	it := Item{Check: "docker", Subject: "network on " + want.Name}
	switch {
	case f.Unreachable != "":
		it.Status, it.Detail = Warning, f.Unreachable+": what Docker reports was not compared with the plan"
		it.Fix = "nothing to do if Docker is not running yet (it reads daemon.json when it starts); else point --docker-host at its API"
		return it
	case f.Err != "":
		it.Status, it.Detail = Problem, f.Err
		it.Fix = restartFix(want, f.Daemon)
		return it
	}
	diffs := topology.DockerDiff(want, f.Network)
	if len(diffs) == 0 {
		it.Status = OK
		it.Detail = fmt.Sprintf("Docker %s at %s reports network %q as planned: gateway %s, subnet %s, IP range %s, MTU %d",
			f.Version, f.Host, f.Network.Name, f.Network.Gateway, f.Network.Subnet, f.Network.IPRange, f.Network.MTU)
		return it
	}
	it.Status = Problem
	it.Detail = fmt.Sprintf("Docker %s at %s: %s", f.Version, f.Host, strings.Join(diffs, "; "))
	it.Fix = restartFix(want, f.Daemon)
	return it
}

// restartFix says how Docker comes to match the plan: it reads daemon.json
// only when it starts.
func restartFix(want topology.DockerBridge, d DaemonJSON) string {
	if holdsPlan(want, d) {
		return fmt.Sprintf("restart Docker to apply %s (systemctl restart docker): it holds the plan, and Docker reads it only when it starts", d.Path)
	}
	return fmt.Sprintf("run ovsmesh apply (it writes %s), then restart Docker (systemctl restart docker)", d.Path)
}

// holdsPlan reports whether daemon.json holds the plan's keys: the gateway as
// bip (or, for a bridge other than docker0, the bridge, whose address Docker
// takes), fixed-cidr and mtu.
func holdsPlan(want topology.DockerBridge, d DaemonJSON) bool {
	addr := samePrefix(d.Bip, want.Address) || (d.Bip == "" && d.Bridge == want.Name && want.Name != topology.DefaultDockerBridge)
	return !d.Missing && d.Err == "" && addr && d.FixedCIDR == want.FixedCIDR.String() && d.MTU == want.MTU
}

func judgeICC(want topology.DockerBridge, f DockerFacts) Item {
	it := Item{Check: "docker", Subject: "icc"}
	var off []string
	if f.Daemon.ICC != nil && !*f.Daemon.ICC {
		off = append(off, fmt.Sprintf(`%s sets "icc": false`, f.Daemon.Path))
	}
	read := f.Unreachable == "" && f.Err == ""
	if read && !f.Network.ICC {
		off = append(off, fmt.Sprintf("Docker's network %q reports enable_icc false", f.Network.Name))
	}
	if len(off) == 0 {
		it.Status = OK
		it.Detail = fmt.Sprintf("%s does not set \"icc\": false", f.Daemon.Path)
		if read {
			it.Detail += fmt.Sprintf(", and Docker's network %q reports enable_icc true", f.Network.Name)
		}
		return it
	}
	it.Status = Problem
	it.Detail = strings.Join(off, "; ") + ": the plan needs icc on: " + topology.DockerICCWhy(want)
	it.Fix = topology.DockerICCFix(want)
	return it
}

func judgePools(want topology.DockerBridge, d DaemonJSON) Item {
	it := Item{Check: "docker", Subject: "default-address-pools"}
	if len(d.Pools) == 0 {
		it.Status, it.Detail = OK, fmt.Sprintf("%s sets no default-address-pools: Docker keeps %s when it restarts", d.Path, want.Name)
		return it
	}
	it.Status = Warning
	it.Detail = fmt.Sprintf("%s sets default-address-pools (%s): Docker then deletes and recreates %s on every restart, "+
		"which detaches %s from it; ovsmesh attaches it again, a short outage of this host's containers on the mesh",
		d.Path, strings.Join(d.Pools, ", "), want.Name, want.Port)
	it.Fix = fmt.Sprintf("keep the reconcile loop running (apply --interval) so that %s is attached again at once, "+
		"or remove default-address-pools if Docker's own networks can do without it", want.Port)
	return it
}
