package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestMeshGRE(t *testing.T) {
	testMesh(t, "  encap: gre\n  mode: mesh\n")
}

func TestMeshVXLAN(t *testing.T) {
	testMesh(t, "  encap: vxlan\n  mode: mesh\n  vxlan_port: 4790\n")
}

// testMesh proves the mesh mode on three hosts running Docker, with one `docker
// run` container each after Docker restarted once (the README's procedure).
func testMesh(t *testing.T, network string) {
	t.Parallel()
	c := newDockerCluster(t, labTopology(network, 3))
	c.mustApply()
	hosts := []string{"docker1", "docker2", "docker3"}

	t.Run("tunnels as planned", func(t *testing.T) {
		for _, h := range hosts {
			for _, tu := range c.plan(h).OVS.Tunnels {
				got := c.vsctl(h, "get", "interface", tu.Name, "type", "options", "ofport", "external_ids:ovsmesh-owner")
				opts := []string{fmt.Sprintf("local_ip=%q", tu.LocalIP.String()), fmt.Sprintf("remote_ip=%q", tu.RemoteIP.String())}
				if tu.DstPort != 0 {
					opts = append([]string{fmt.Sprintf("dst_port=%q", fmt.Sprint(tu.DstPort))}, opts...)
				}
				want := fmt.Sprintf("%s\n{%s}\n%d\n%s", tu.Type, strings.Join(opts, ", "), tu.OFPort, h)
				if got != want {
					t.Errorf("%s: interface %s:\n%s\nwant:\n%s", h, tu.Name, got, want)
				}
			}
		}
	})

	cts := c.dockerContainers()
	mtu := c.topo.Network.MTU

	t.Run("every container pings every other", func(t *testing.T) {
		for _, a := range hosts {
			for _, b := range hosts {
				if a != b {
					ping(t, cts[a], addr(cts[b].Addr), 56, false)
				}
			}
		}
	})

	t.Run("full MTU passes, one byte more does not leave", func(t *testing.T) {
		ping(t, cts["docker1"], addr(cts["docker2"].Addr), mtu-28, true)
		ping(t, cts["docker3"], addr(cts["docker1"].Addr), mtu-28, true)
		noPing(t, cts["docker1"], addr(cts["docker2"].Addr), mtu-27, true)
	})

	t.Run("container pings a remote docker0", func(t *testing.T) {
		ping(t, cts["docker1"], c.plan("docker3").Docker.Address.Addr(), 56, false)
		ping(t, cts["docker2"], c.plan("docker1").Docker.Address.Addr(), 56, false)
	})

	t.Run("broadcast reaches each remote container once", func(t *testing.T) {
		bcast := netip.MustParseAddr("172.17.255.255")
		caps := map[string]*capture{}
		for _, h := range hosts[1:] {
			caps[h] = startCapture(t, cts[h], "icmp and dst host "+bcast.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = cts["docker1"].Run(ctx, "ping", "-b", "-c", "1", "-W", "1", bcast.String())
		time.Sleep(time.Second)
		for h, cp := range caps {
			if got := cp.stop(); len(got) != 1 {
				t.Errorf("%s saw the broadcast %d times, want once: %q", h, len(got), got)
			}
		}
	})

	t.Run("ARP for host 2's slice never reaches host 3", func(t *testing.T) {
		target := c.plan("docker2").Docker.FixedCIDR.Addr().Next().Next().Next().Next() // unused in slice 2
		filter := fmt.Sprintf("arp and arp[24:4] = 0x%x", target.As4())
		at2, at3 := startCapture(t, cts["docker2"], filter), startCapture(t, cts["docker3"], filter)
		tx := c.vsctl("docker1", "get", "interface", c.plan("docker1").OVS.Tunnels[1].Name, "statistics:tx_packets")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = cts["docker1"].Run(ctx, "ping", "-c", "1", "-W", "2", target.String())
		time.Sleep(time.Second)
		got2, got3 := at2.stop(), at3.stop()
		if len(got2) == 0 {
			t.Errorf("host 2 never saw the ARP request for %s (the test sent none?)", target)
		}
		if len(got3) != 0 {
			t.Errorf("host 3 saw the ARP request for %s, which belongs to host 2: %q", target, got3)
		}
		t.Logf("host1 tunnel to host3 tx_packets before the ARP: %s, after: %s", tx,
			c.vsctl("docker1", "get", "interface", c.plan("docker1").OVS.Tunnels[1].Name, "statistics:tx_packets"))
	})

	t.Run("a container posing as another host's container reaches nobody", func(t *testing.T) {
		fake := c.plan("docker2").Docker.FixedCIDR.Addr().Next().Next().Next().Next().Next()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := cts["docker1"].Run(ctx, "ip", "addr", "add", netip.PrefixFrom(fake, 16).String(), "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		seen := startCapture(t, cts["docker3"], "src host "+fake.String())
		if _, err := cts["docker1"].Run(ctx, "ping", "-I", fake.String(), "-c", "2", "-W", "1", addr(cts["docker3"].Addr).String()); err == nil {
			t.Errorf("ping from the spoofed source %s was answered", fake)
		}
		if got := seen.stop(); len(got) != 0 {
			t.Errorf("host 3 received frames from the spoofed source %s: %q", fake, got)
		}
		// The container's own address still works.
		ping(t, cts["docker1"], addr(cts["docker3"].Addr), 56, false)
	})

	t.Run("frame injected into host 1's tunnel with a foreign source is dropped by host 3", func(t *testing.T) {
		toHost3 := c.plan("docker1").OVS.Tunnels[1]
		if toHost3.Peer != "docker3" {
			t.Fatalf("tunnel %s goes to %s", toHost3.Name, toHost3.Peer)
		}
		dst := addr(cts["docker3"].Addr)
		own := c.plan("docker1").Docker.FixedCIDR.Addr().Next().Next().Next().Next().Next().Next()
		foreign := c.plan("docker2").Docker.FixedCIDR.Addr().Next().Next().Next().Next().Next().Next()
		for _, tc := range []struct {
			src  netip.Addr
			id   uint16
			want int
		}{{own, 0x4201, 1}, {foreign, 0x4202, 0}} {
			seen := startCapture(t, cts["docker3"], fmt.Sprintf("icmp and src host %s and icmp[4:2] = 0x%x", tc.src, tc.id))
			c.ofctl("docker1", "packet-out", "br0", fmt.Sprintf("in_port=LOCAL packet=%s actions=output:%d", icmpFrame(tc.src, dst, tc.id), toHost3.OFPort))
			time.Sleep(time.Second)
			if got := seen.stop(); len(got) != tc.want {
				t.Errorf("frame from %s through host 1's tunnel: host 3's container saw it %d times, want %d", tc.src, len(got), tc.want)
			}
		}
	})
}
