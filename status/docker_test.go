package status

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// TestWriteDockerStatus: Docker's network beside the plan, every difference
// named; Docker not reachable said as such.
func TestWriteDockerStatus(t *testing.T) {
	want := topology.DockerBridge{Name: "docker0", Port: "br0", Address: netip.MustParsePrefix("172.17.0.2/16"), MTU: 1462,
		FixedCIDR: netip.MustParsePrefix("172.17.32.0/20"), Subnet: netip.MustParsePrefix("172.17.0.0/16")}
	n := topology.DockerNetwork{Name: "bridge", Bridge: "docker0", Subnet: netip.MustParsePrefix("172.17.0.0/16"), MTU: 1500, ICC: true}
	d := &Docker{Host: "unix:///run/d.sock", Network: &n,
		Plan:        &DockerPlan{Bridge: "docker0", Gateway: want.Address.Addr(), Subnet: want.Subnet, IPRange: want.FixedCIDR, MTU: want.MTU},
		Differences: topology.DockerDiff(want, n)}
	var b bytes.Buffer
	writeDocker(&b, d)
	golden := `docker: network "bridge" on docker0 (unix:///run/d.sock)
            DOCKER         PLAN
  gateway   none           172.17.0.2
  subnet    172.17.0.0/16  172.17.0.0/16
  ip range  none           172.17.32.0/20
  mtu       1500           1462
  icc       true           true
  differs: Docker's network "bridge" has gateway none, the plan 172.17.0.2
  differs: Docker's network "bridge" has IP range none (the whole subnet), the plan 172.17.32.0/20
  differs: Docker's network "bridge" has MTU 1500, the plan 1462
`
	if b.String() != golden {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), golden)
	}
	b.Reset()
	writeDocker(&b, &Docker{Host: "unix:///run/d.sock", Error: "Docker not reachable at unix:///run/d.sock: no such file"})
	if b.String() != "docker: Docker not reachable at unix:///run/d.sock: no such file\n" {
		t.Errorf("unreachable: %q", b.String())
	}
}
