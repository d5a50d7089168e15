package bench

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// measuredHost is the host of the mesh the lab plays.
const measuredHost = "h1"

// hostAddr is the underlay address of host i of the mesh: 198.18.0.2 for host 1,
// 250 hosts per /24 of 198.18.0.0/15 (a benchmarking range, never routed), never
// a .0 or a .255.
func hostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(i%250 + 1)})
}

// underlay is the measured host's underlay address with the prefix that puts
// every peer on its link, so that ovs-vswitchd routes all tunnels via br-phy.
func underlay() netip.Prefix { return netip.PrefixFrom(hostAddr(1), 15) }

// meshYAML is the topology of an n-host GRE full mesh on the userspace datapath.
// 10.0.0.0/8 cut into /20 slices holds 4095 hosts (a /16 with /24 slices only
// 255).
func meshYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("# ovsmesh-bench: one host of this mesh runs in the lab; its peers do not exist.\n")
	b.WriteString("network:\n  encap: gre\n  mode: mesh\n  datapath: netdev\n  subnet: 10.0.0.0/8\n  slice_prefix: 20\nhosts:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, address: %s, index: %d}\n", i, hostAddr(i), i)
	}
	return []byte(b.String())
}

// mesh is the plan of the measured host of an n-host mesh, and the same tunnels
// and flows written for the OVS tools.
type mesh struct {
	n    int
	yaml []byte
	want topology.HostState
}

func newMesh(n int) (*mesh, error) {
	if n < 2 || n > 4095 {
		return nil, fmt.Errorf("mesh of %d hosts: want 2 to 4095", n)
	}
	y := meshYAML(n)
	t, err := topology.Compile(fmt.Sprintf("mesh%d.yaml", n), y)
	if err != nil {
		return nil, err
	}
	want, err := t.Desired(measuredHost)
	if err != nil {
		return nil, err
	}
	if got := len(want.OVS.Tunnels); got != n-1 {
		return nil, fmt.Errorf("mesh of %d hosts: %s has %d tunnels, want %d", n, measuredHost, got, n-1)
	}
	return &mesh{n: n, yaml: y, want: want}, nil
}

func (m *mesh) bridge() string { return m.want.OVS.Bridge }

// addBridge is the ovs-vsctl command that creates the bridge on the userspace
// datapath, as ifupdown's bridge stanza does.
func (m *mesh) addBridge() []string {
	return []string{"add-br", m.bridge(), "--", "set", "bridge", m.bridge(), "datapath_type=" + m.want.OVS.Datapath}
}

// addPort is the ovs-vsctl command for one tunnel, as ifupdown runs it per stanza.
func (m *mesh) addPort(t topology.Tunnel) []string {
	return []string{"add-port", m.bridge(), t.Name, "--", "set", "interface", t.Name, "type=" + t.Type,
		"options:remote_ip=" + t.RemoteIP.String(), "ofport_request=" + strconv.Itoa(t.OFPort)}
}

// bulk is one ovs-vsctl command line that creates the bridge and every tunnel.
func (m *mesh) bulk() []string {
	args := m.addBridge()
	for _, t := range m.want.OVS.Tunnels {
		args = append(append(args, "--"), m.addPort(t)...)
	}
	return args
}

// flowLines are the planned flows in ovs-ofctl add-flow syntax with ovsmesh's
// cookie: what `ovsmesh apply` installs.
func (m *mesh) flowLines() []string {
	lines := make([]string, len(m.want.Flows))
	for i, f := range m.want.Flows {
		lines[i] = cookieMatch() + "," + f.String()
	}
	return lines
}

// cookieMatch selects ovsmesh's flows (and, in a flow, sets its cookie).
func cookieMatch() string { return fmt.Sprintf("cookie=%#x", topology.FlowCookie) }
