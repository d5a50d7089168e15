package ifupdown

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
	"github.com/ovsmesh/ovsmesh/topology"
)

// ifupScript runs "$@" (ifup or ifdown) in a private mount namespace where $2 is
// /etc/network/interfaces (the OVS hook's nested "ifup --allow=BRIDGE" reads the
// default path), the lab host's run directory $1 is /run/openvswitch (the hooks'
// ovs-vsctl uses the default database socket), $4 is /run/network, ifupdown's
// state (kept from ifup to ifdown), and $3, a stub that succeeds, is systemctl: the
// OVS hook would otherwise try to start the system's openvswitch-switch service.
const ifupScript = `set -e
mount -t tmpfs ovsmesh-run /run
mkdir /run/openvswitch /run/network
mount --bind "$1" /run/openvswitch
mount --bind "$2" /etc/network/interfaces
mount --bind "$3" /bin/systemctl
mount --bind "$4" /run/network
shift 4
"$@"`

// TestHooksBuildTheOVSDBColumns boots a lab host from a rendered file: Debian's
// openvswitch-switch and bridge-utils hooks, run by "ifup -a" as networking.service
// does, must build exactly the rows and columns ovsmesh's OVSDB reconcile owns; an
// "ifdown -a" (shutdown) removes them, and the next "ifup -a" builds them again.
func TestHooksBuildTheOVSDBColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a lab host with ifupdown: not with -short")
	}
	lab.RequireBinaries(t, "ifup", "ifdown", "brctl", "unshare", "mount")
	for _, tc := range []struct {
		topology, host string
		want           []string
	}{
		{"../examples/lab.yaml", "docker3", []string{
			"bridge br0 datapath_type=netdev stp_enable=false rstp_enable=false fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 external_ids=ovsmesh-owner=docker3 other_config=",
			"port br0 external_ids=ovsmesh-owner=docker3 other_config=",
			"port gre-docker1 external_ids=ovsmesh-owner=docker3 other_config=",
			"port gre-docker2 external_ids=ovsmesh-owner=docker3 other_config=",
			"interface br0 type=internal options= ofport_request= mtu_request=1462 bfd= external_ids=ovsmesh-owner=docker3",
			"interface gre-docker1 type=gre options=local_ip=198.18.0.3,remote_ip=198.18.0.1 ofport_request=32769 mtu_request= bfd= external_ids=ovsmesh-owner=docker3",
			"interface gre-docker2 type=gre options=local_ip=198.18.0.3,remote_ip=198.18.0.2 ofport_request=32770 mtu_request= bfd= external_ids=ovsmesh-owner=docker3",
			"docker0 172.17.0.3/16 mac 02:42:ac:11:00:03 mtu 1462 port br0",
		}},
		{"testdata/bfd-rstp-links.yaml", "h2", []string{
			"bridge ovsbr datapath_type=netdev stp_enable=false rstp_enable=true fail_mode= protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 external_ids=ovsmesh-owner=h2 other_config=",
			"port gre-h1 external_ids=ovsmesh-owner=h2 other_config=rstp-path-cost=10",
			"port gre-h3 external_ids=ovsmesh-owner=h2 other_config=rstp-path-cost=30",
			"port ovsbr external_ids=ovsmesh-owner=h2 other_config=",
			"interface gre-h1 type=gre options=key=7,local_ip=fd00:198:18::2,remote_ip=fd00:198:18::1 ofport_request=32769 mtu_request= bfd=enable=true,min_rx=100,min_tx=100,mult=3 external_ids=ovsmesh-owner=h2",
			"interface gre-h3 type=gre options=key=7,local_ip=fd00:198:18::2,remote_ip=fd00:198:18::3 ofport_request=32771 mtu_request= bfd=enable=true,min_rx=100,min_tx=100,mult=3 external_ids=ovsmesh-owner=h2",
			"interface ovsbr type=internal options= ofport_request= mtu_request=1438 bfd= external_ids=ovsmesh-owner=h2",
			"docker0 172.20.0.2/16 mac 02:42:ac:14:00:02 mtu 1438 port ovsbr",
		}},
	} {
		t.Run(tc.host, func(t *testing.T) {
			s := desired(t, tc.topology, tc.host)
			h := lab.NewT(t, lab.HostSpec{Name: tc.host}).Host(tc.host)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			file, stub := bootFiles(t, s)
			state := t.TempDir()
			ifupdown := func(argv ...string) {
				t.Helper()
				args := append([]string{"unshare", "-m", "sh", "-c", ifupScript, "sh", h.RunDir, file, stub, state}, argv...)
				start := time.Now()
				defer func() { t.Logf("%s: %v", argv, time.Since(start)) }()
				if _, err := h.Run(ctx, args...); err != nil {
					t.Fatal(err)
				}
			}
			for _, phase := range []string{"boot", "reboot"} {
				ifupdown("ifup", "-a")
				if got := hostState(ctx, t, h, s); !slices.Equal(got, tc.want) {
					t.Errorf("after %s:\n%s\nwant:\n%s", phase, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
				ifupdown("ifdown", "-a")
				if got := hostState(ctx, t, h, s); len(got) != 0 {
					t.Errorf("after shutdown of the %s, left:\n%s", phase, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// bootFiles writes the interfaces file (loopback and the ovsmesh block) and the
// systemctl stub.
func bootFiles(t *testing.T, s topology.HostState) (file, stub string) {
	t.Helper()
	dir := t.TempDir()
	full, err := MergeInterfaces([]byte("auto lo\niface lo inet loopback\n"), RenderInterfaces(s))
	if err != nil {
		t.Fatal(err)
	}
	file, stub = filepath.Join(dir, "interfaces"), filepath.Join(dir, "systemctl")
	if err := os.WriteFile(file, full, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return file, stub
}

// hostState renders the OVSDB rows owned by s.Host, sorted by table then name,
// and the Linux bridge s.Docker, as text.
func hostState(ctx context.Context, t *testing.T, h *lab.Host, s topology.HostState) []string {
	t.Helper()
	var lines []string
	for _, tbl := range []struct{ name, columns string }{
		{"bridge", "name,datapath_type,stp_enable,rstp_enable,fail_mode,protocols,external_ids,other_config"},
		{"port", "name,external_ids,other_config"},
		{"interface", "name,type,options,ofport_request,mtu_request,bfd,external_ids"},
	} {
		out, err := h.Run(ctx, "ovs-vsctl", "--db="+h.DB(), "--format=csv", "--data=bare", "--no-headings",
			"--columns="+tbl.columns, "find", tbl.name, "external_ids:"+topology.OwnerKey+"="+s.Host)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("parse ovs-vsctl output %q: %v", out, err)
		}
		var table []string
		cols := strings.Split(tbl.columns, ",")
		for _, row := range rows {
			line := tbl.name + " " + row[0]
			for i, v := range row[1:] {
				line += " " + cols[i+1] + "=" + strings.ReplaceAll(v, " ", ",")
			}
			table = append(table, line)
		}
		slices.Sort(table)
		lines = append(lines, table...)
	}
	if d := linuxBridge(ctx, t, h, s.Docker.Name); d != "" {
		lines = append(lines, d)
	}
	return lines
}

// linuxBridge renders bridge name as "NAME ADDRESS mac MAC mtu MTU port PORT...", or ""
// when it does not exist.
func linuxBridge(ctx context.Context, t *testing.T, h *lab.Host, name string) string {
	t.Helper()
	if _, err := h.Run(ctx, "ip", "link", "show", "dev", name); err != nil {
		return ""
	}
	out, err := h.Run(ctx, "sh", "-c", `set -e
ip -o -4 addr show dev "$1" | awk '{printf "%s %s", $2, $4}'
printf ' mac %s mtu %s' "$(cat /sys/class/net/$1/address)" "$(cat /sys/class/net/$1/mtu)"
for p in /sys/class/net/$1/brif/*; do [ -e "$p" ] && printf ' port %s' "${p##*/}"; done`, "sh", name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
