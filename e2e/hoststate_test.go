package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// hostColumns are the columns of each OVSDB table a host's state shows: those
// ovsmesh writes, and the ofport the tunnels got. The name comes first.
var hostColumns = []struct{ table, columns string }{
	{"bridge", "name,datapath_type,fail_mode,protocols,stp_enable,rstp_enable,other_config,external_ids"},
	{"port", "name,external_ids,other_config"},
	{"interface", "name,type,options,ofport_request,ofport,mtu_request,bfd,external_ids"},
}

// hostState is what ovsmesh manages on a host as the tools show it, each part
// as text: OVSDB rows ("interface gre-docker2 type=gre options=local_ip=…,remote_ip=…
// ofport_request=32770 ofport=32770 …"), br0's ports, docker0 (the Linux bridge)
// and br0 (its OVS internal port), and the flows with ovsmesh's cookie.
type hostState struct {
	Rows    []string // hostRows: every row, or ovsmesh's only
	Ports   string   // "ports of br0: gre-docker2 gre-docker3"
	Docker0 string   // "docker0 kind=bridge mac=… mtu=… up=true addresses=172.17.0.1/16 ports=br0" (see linuxBridge)
	BR0     string   // "br0 mtu=… up=…"
	Flows   []string // flows with ovsmesh's cookie, without statistics, sorted
}

// lines returns the state as sorted lines (flows as "flow …").
func (s hostState) lines() []string {
	lines := append(slices.Clone(s.Rows), s.Ports, s.Docker0, s.BR0)
	for _, f := range s.Flows {
		lines = append(lines, "flow "+f)
	}
	slices.Sort(lines)
	return lines
}

func (s hostState) String() string { return strings.Join(s.lines(), "\n") + "\n" }

// readHostState reads host's state (all: every OVSDB row, not only ovsmesh's).
// An error means something is missing (e.g. docker0) or a tool failed; the
// parts read before it are filled.
func readHostState(c *cluster, host string, all bool) (hostState, error) {
	h := c.host(host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s hostState
	var err error
	if s.Rows, err = hostRows(ctx, h, all, false); err != nil {
		return s, err
	}
	out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=10", "list-ports", "br0")
	if err != nil {
		return s, err
	}
	s.Ports = "ports of br0: " + strings.Join(strings.Fields(out), " ")
	if s.Docker0, err = linuxBridge(ctx, h, lab.DockerBridge); err != nil {
		return s, err
	}
	br0, err := ipLinks(ctx, h, "-d", "link", "show", "dev", "br0")
	if err != nil || len(br0) != 1 {
		return s, fmt.Errorf("br0 on %s: %d links, %v", host, len(br0), err)
	}
	s.BR0 = fmt.Sprintf("br0 mtu=%d up=%v", br0[0].MTU, slices.Contains(br0[0].Flags, "UP"))
	out, err = h.Run(ctx, "ovs-ofctl", "-O", "OpenFlow14", "--timeout=5", "dump-flows", "--no-stats", "br0", loopCookie)
	if err != nil {
		return s, err
	}
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "actions=") {
			s.Flows = append(s.Flows, strings.TrimSpace(l))
		}
	}
	slices.Sort(s.Flows)
	return s, nil
}

// hostRows renders host's Bridge, Port and Interface rows with hostColumns as
// "TABLE NAME column=value …", sorted; values are bare, with set and map
// elements joined by commas. all: every row, else those ovsmesh owns (their
// external_ids hold ovsmesh-owner). uuids: with each row's _uuid.
func hostRows(ctx context.Context, h *lab.Host, all, uuids bool) ([]string, error) {
	var lines []string
	for _, tbl := range hostColumns {
		columns := tbl.columns
		if uuids {
			columns += ",_uuid"
		}
		out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--timeout=10", "--format=csv", "--data=bare",
			"--no-headings", "--columns="+columns, "list", tbl.table)
		if err != nil {
			return nil, err
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("ovs-vsctl list %s: %v:\n%s", tbl.table, err, out)
		}
		cols := strings.Split(columns, ",")
		for _, row := range rows {
			var b strings.Builder
			b.WriteString(tbl.table + " " + row[0])
			for i, v := range row[1:] {
				fmt.Fprintf(&b, " %s=%s", cols[i+1], strings.Join(strings.Fields(v), ","))
			}
			if all || strings.Contains(b.String(), " external_ids=ovsmesh-owner=") || strings.Contains(b.String(), ",ovsmesh-owner=") {
				lines = append(lines, b.String())
			}
		}
	}
	slices.Sort(lines)
	return lines, nil
}

// ipLink is the part of `ip -j -d link` and `ip -j addr` output the tests read.
type ipLink struct {
	Name     string   `json:"ifname"`
	Address  string   `json:"address"`
	MTU      int      `json:"mtu"`
	Master   string   `json:"master"`
	Flags    []string `json:"flags"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
	Addrs []struct {
		Family string `json:"family"`
		Local  string `json:"local"`
		Len    int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// ipLinks runs `ip -j ARGV` in h's namespace.
func ipLinks(ctx context.Context, h *lab.Host, argv ...string) ([]ipLink, error) {
	out, err := h.Run(ctx, append([]string{"ip", "-j"}, argv...)...)
	if err != nil {
		return nil, err
	}
	var links []ipLink
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("ip -j %s: %v:\n%s", strings.Join(argv, " "), err, out)
	}
	return links, nil
}

// linuxBridge renders a Linux bridge as "NAME kind=… mac=… mtu=… up=…
// addresses=… ports=…", where ports are those that are not containers' veths;
// a missing link is an error.
func linuxBridge(ctx context.Context, h *lab.Host, name string) (string, error) {
	links, err := ipLinks(ctx, h, "-d", "link", "show", "dev", name)
	if err != nil || len(links) != 1 {
		return name + " missing", fmt.Errorf("%s on %s: %d links, %v", name, h.Name, len(links), err)
	}
	l := links[0]
	as, err := ipLinks(ctx, h, "addr", "show", "dev", name)
	if err != nil {
		return "", err
	}
	var addrs, ports []string
	for _, a := range as {
		for _, ai := range a.Addrs {
			if ai.Family == "inet" {
				addrs = append(addrs, fmt.Sprintf("%s/%d", ai.Local, ai.Len))
			}
		}
	}
	slices.Sort(addrs)
	ps, err := ipLinks(ctx, h, "-d", "link", "show", "master", name)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.LinkInfo.Kind != "veth" { // a container's, not the host's
			ports = append(ports, p.Name)
		}
	}
	slices.Sort(ports)
	return fmt.Sprintf("%s kind=%s mac=%s mtu=%d up=%v addresses=%s ports=%s", name, l.LinkInfo.Kind, l.Address, l.MTU,
		slices.Contains(l.Flags, "UP"), strings.Join(addrs, ","), strings.Join(ports, ",")), nil
}
