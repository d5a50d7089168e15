package ifupdown

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Marker comments around the ovsmesh block of /etc/network/interfaces. A line
// belongs to a marker when, trimmed, it starts with BeginPrefix or EndPrefix, so the
// wording after the prefix can change without orphaning old blocks.
const (
	BeginMarker = BeginPrefix + ": do not edit, ovsmesh apply rewrites it"
	EndMarker   = EndPrefix
	BeginPrefix = "# BEGIN ovsmesh managed block"
	EndPrefix   = "# END ovsmesh managed block"
)

// maxWidth is the column after which an option line is continued on the next line
// with ifupdown's trailing backslash.
const maxWidth = 80

// RenderInterfaces returns the ovsmesh block of /etc/network/interfaces for s, from
// BeginMarker to EndMarker, each line ending in "\n". It is pure and deterministic.
//
// The stanzas use Debian's openvswitch-switch ifupdown hook, whose commands are
//
//	ovs-vsctl -- --may-exist add-br BRIDGE -- $ovs_extra
//	ovs-vsctl -- --may-exist add-port BRIDGE PORT -- set Interface PORT \
//	    type=$ovs_tunnel_type $ovs_tunnel_options -- $ovs_extra
//
// so every column ovsmesh's OVSDB reconcile writes is written here too, with the
// same value: Bridge, Port and Interface columns through "set" commands in
// ovs_extra (applied on every ifup, also when the row already exists, which
// --may-exist add-port alone would skip), the tunnel Interface's columns in
// ovs_tunnel_options. The hook runs ovs_extra through the shell's eval: topology's
// validation restricts names to letters, digits, '-', '_' and '.', so no value here
// needs quoting. Map columns are set key by key (options:remote_ip=…, the form
// "options={…}" would need quotes around an IPv6 address): keys ovsmesh does not
// want are not removed by ifup, which is exact in practice because "ifdown" (at
// every shutdown) deletes the bridge with all its ports, so each boot builds the
// rows afresh; a drifted row is repaired by the next ovsmesh apply. Columns that
// ovsmesh leaves at their defaults (stp_enable and rstp_enable when false, bfd,
// fail_mode in stp and tree mode) are not written.
//
// Boot order: the OVS bridge stanza is "auto" as well as "allow-ovs", because under
// systemd nothing raises allow-ovs interfaces (openvswitch-switch.service runs
// /bin/true; only the sysvinit script runs "ifup --allow=ovs"), while
// networking.service's "ifup -a" runs after ovsdb-server and ovs-vswitchd. The
// tunnels and docker0 are "allow-BRIDGE" only and listed in the bridge's ovs_ports:
// the hook raises them right after add-br, docker0 last, so the bridge's internal
// interface exists when bridge-utils enslaves it to docker0. An "auto docker0"
// could run before the OVS bridge exists (sysvinit starts networking before
// openvswitch-switch) and would then come up without its port.
func RenderInterfaces(s topology.HostState) []byte {
	var b bytes.Buffer
	b.WriteString(BeginMarker + "\n")
	b.WriteString("# Rebuilds at boot what ovsmesh apply builds on host " + s.Host + ": Open vSwitch\n")
	b.WriteString("# bridge " + s.OVS.Bridge + " (openvswitch-switch), its tunnels, then " +
		s.Docker.Name + " (bridge-utils).\n")
	writeBridge(&b, s)
	for _, t := range s.OVS.Tunnels {
		writeTunnel(&b, s.OVS, t)
	}
	writeDocker(&b, s)
	b.WriteString(EndMarker + "\n")
	return b.Bytes()
}

func writeBridge(b *bytes.Buffer, s topology.HostState) {
	o := s.OVS
	owner := ownerMark(o.Owner)
	ports := make([]string, 0, len(o.Tunnels)+1)
	for _, t := range o.Tunnels {
		ports = append(ports, t.Name)
	}
	ports = append(ports, s.Docker.Name)

	br := []string{"set", "bridge", o.Bridge, "datapath_type=" + o.Datapath}
	if o.STP {
		br = append(br, "stp_enable=true")
	}
	if o.RSTP {
		br = append(br, "rstp_enable=true")
	}
	if o.FailMode != "" {
		br = append(br, "fail_mode="+o.FailMode)
	}
	if len(o.Protocols) > 0 {
		br = append(br, "protocols="+strings.Join(o.Protocols, ","))
	}
	br = append(br, owner)
	iface := []string{"--", "set", "interface", o.Bridge}
	if o.MTU != 0 {
		iface = append(iface, "mtu_request="+strconv.Itoa(o.MTU))
	}
	extra := slices.Concat(br, []string{"--", "set", "port", o.Bridge, owner}, iface, []string{owner})

	b.WriteString("\nauto " + o.Bridge + "\n")
	b.WriteString("allow-ovs " + o.Bridge + "\n")
	b.WriteString("iface " + o.Bridge + " inet manual\n")
	writeOption(b, "ovs_type", "OVSBridge")
	writeOption(b, "ovs_ports", ports...)
	writeOption(b, "ovs_extra", extra...)
}

func writeTunnel(b *bytes.Buffer, o topology.OVSState, t topology.Tunnel) {
	owner := ownerMark(o.Owner)
	opts := t.Options()
	keys := slices.Sorted(maps.Keys(opts))
	// remote_ip first: it is what an operator looks for.
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "remote_ip" })
	keys = append([]string{"remote_ip"}, keys...)
	var ifc []string
	for _, k := range keys {
		ifc = append(ifc, "options:"+k+"="+opts[k])
	}
	if t.OFPort != 0 {
		ifc = append(ifc, "ofport_request="+strconv.Itoa(t.OFPort))
	}
	bfd := t.BFDConfig()
	for _, k := range slices.Sorted(maps.Keys(bfd)) {
		ifc = append(ifc, "bfd:"+k+"="+bfd[k])
	}
	ifc = append(ifc, owner)
	port := []string{"set", "port", t.Name, owner}
	if t.STPCost != 0 {
		port = append(port, "other_config:"+o.PathCostKey()+"="+strconv.Itoa(t.STPCost))
	}

	b.WriteString("\nallow-" + o.Bridge + " " + t.Name + "\n")
	b.WriteString("iface " + t.Name + " inet manual\n")
	writeOption(b, "ovs_type", "OVSTunnel")
	writeOption(b, "ovs_bridge", o.Bridge)
	writeOption(b, "ovs_tunnel_type", t.Type)
	writeOption(b, "ovs_tunnel_options", ifc...)
	writeOption(b, "ovs_extra", port...)
}

// writeDocker writes the Linux bridge docker0 with the OVS bridge's internal
// interface as its port. STP stays off (loops are the overlay's business) and
// bridge_fd/bridge_maxwait 0 keep bridge-utils from sleeping at boot. The pinned
// MAC is ifupdown's own "hwaddress" (set by the static method once bridge-utils
// has created the bridge), not bridge-utils' bridge_hw, which sleeps a second.
// post-up puts ovsmesh's mark back on the bridge.
func writeDocker(b *bytes.Buffer, s topology.HostState) {
	d := s.Docker
	b.WriteString("\nallow-" + s.OVS.Bridge + " " + d.Name + "\n")
	b.WriteString("iface " + d.Name + " inet static\n")
	writeOption(b, "address", d.Address.String())
	if d.MAC != "" {
		writeOption(b, "hwaddress", "ether", d.MAC)
	}
	if d.MTU != 0 {
		writeOption(b, "mtu", strconv.Itoa(d.MTU))
	}
	writeOption(b, "bridge_ports", d.Port)
	writeOption(b, "bridge_stp", "off")
	writeOption(b, "bridge_fd", "0")
	writeOption(b, "bridge_maxwait", "0")
	if d.Owner != "" {
		// ovsmesh's mark on the bridge (see linuxbridge.Alias): the kernel
		// forgets it at a reboot, and the pass after it would set it again.
		writeOption(b, "post-up", "ip", "link", "set", "dev", d.Name, "alias", topology.OwnerKey+"="+d.Owner)
	}
}

func ownerMark(owner string) string {
	return "external_ids:" + topology.OwnerKey + "=" + owner
}

// writeOption writes one indented option line. Long values are continued on the
// next line with ifupdown's trailing backslash (ifupdown joins the lines before the
// hook sees them): before every "--", so each ovs-vsctl command starts a line, and
// where the line would pass maxWidth.
func writeOption(b *bytes.Buffer, name string, words ...string) {
	line := "    " + name
	first := true
	for _, w := range words {
		if !first && (w == "--" || len(line)+1+len(w) > maxWidth) {
			b.WriteString(line + " \\\n")
			line = "       "
		}
		line += " " + w
		first = false
	}
	b.WriteString(line + "\n")
}
