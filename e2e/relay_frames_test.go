package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsmesh/ovsmesh/internal/lab"
)

// TestRelayWhileCut: with the docker1-docker2 path cut, a broadcast from each
// container reaches every other container exactly once (docker3 relays
// docker1's copy for docker2 and the other way round), nothing loops in 10 s of
// idle, and a relay forwards only frames whose source belongs to the host they
// came from.
func TestRelayWhileCutGRE(t *testing.T) {
	t.Parallel()
	testRelayWhileCut(t, "gre", "gre-")
}

func TestRelayWhileCutVXLAN(t *testing.T) {
	t.Parallel()
	testRelayWhileCut(t, "vxlan", "vx-")
}

func testRelayWhileCut(t *testing.T, encap, prefix string) {
	r := newRelayLab(t, "  encap: "+encap+"\n  bfd: true\n")
	restore := r.cut("docker1", "docker2")
	r.waitBFD("docker1", r.tunnel("docker1", "docker2"), "down")
	r.waitBFD("docker2", r.tunnel("docker2", "docker1"), "down")

	t.Run("status shows the relayed path", func(t *testing.T) {
		for host, want := range map[string]string{
			"docker1": "P-docker2 E 198.18.0.2 key=flow,local_ip=198.18.0.1 32770 up down relayed via P-docker3",
			"docker2": "P-docker1 E 198.18.0.1 key=flow,local_ip=198.18.0.2 32769 up down relayed via P-docker3",
			"docker3": "P-docker1 E 198.18.0.1 key=flow,local_ip=198.18.0.3 32769 up up direct",
		} {
			want = strings.NewReplacer("P-", prefix, " E ", " "+encap+" ").Replace(want)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, err := r.host(host).Run(ctx, ovsmeshBin, "status", "--db", r.host(host).DB())
			cancel()
			var lines []string // the table's columns, one space apart
			for _, l := range strings.Split(out, "\n") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			if err != nil || !strings.Contains(strings.Join(lines, "\n"), want) {
				t.Errorf("%s: ovsmesh status (%v) has no line with %q:\n%s", host, err, want, out)
			}
		}
	})

	t.Run("broadcast reaches every container once", func(t *testing.T) {
		bcast := netip.MustParseAddr("172.17.255.255")
		for _, sender := range []string{"docker1", "docker2", "docker3"} {
			var others []*lab.Container
			for _, h := range []string{"docker1", "docker2", "docker3"} {
				if h != sender {
					others = append(others, r.cts[h])
				}
			}
			filter := fmt.Sprintf("icmp[icmptype] = icmp-echo and dst host %s and src host %s", bcast, r.cts[sender].Addr.Addr())
			seen := countSeen(t, filter, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				// No container answers a broadcast ping (Linux's default): only
				// the requests count.
				_, _ = r.cts[sender].Run(ctx, "ping", "-b", "-c", "3", "-i", "0.2", "-W", "1", bcast.String())
			}, others...)
			for _, ct := range others {
				if seen[ct.Name] != 3 {
					t.Errorf("3 broadcasts from %s's container: %s saw %d", sender, ct.Name, seen[ct.Name])
				}
			}
		}
	})

	t.Run("10 s of idle, nothing loops", func(t *testing.T) {
		relayedBefore := r.relayed()
		rx := map[string]int{}
		for _, h := range []string{"docker1", "docker2", "docker3"} {
			rx[h] = r.rxPackets(h)
		}
		time.Sleep(10 * time.Second)
		for _, h := range []string{"docker1", "docker2", "docker3"} {
			// BFD sends 10 packets a second on each live session (bfd_interval_ms
			// 100) and one on a dead one: about 210 in 10 s. A loop is thousands.
			if n := r.rxPackets(h) - rx[h]; n > 1000 {
				t.Errorf("%s received %d underlay packets in 10 s of idle, want about 210 (BFD)", h, n)
			} else {
				t.Logf("%s: %d underlay packets in 10 s of idle", h, n)
			}
		}
		// The containers' ARP refreshes cross (and the counters lag about 1 s
		// behind the broadcasts above); a loop would relay without end.
		if n := r.relayed() - relayedBefore; n > 20 {
			t.Errorf("docker3 relayed %d packets toward docker2 in 10 s of idle, want a few (ARP)", n)
		} else {
			t.Logf("docker3 relayed %d packets toward docker2 in 10 s of idle", n)
		}
	})

	t.Run("a relay drops frames with a source not the sender's", func(t *testing.T) {
		via := r.plan("docker1").OVS.Tunnels[1] // docker1's tunnel to docker3, the relay
		if via.Peer != "docker3" {
			t.Fatalf("tunnel %s goes to %s", via.Name, via.Peer)
		}
		toDocker2 := r.plan("docker1").OVS.Tunnels[0]
		dst := r.cts["docker2"].Addr.Addr()
		own := r.cts["docker1"].Addr.Addr().Next()
		relayTo2 := "load:0x800002->NXM_NX_TUN_ID[],output:" + strconv.Itoa(via.OFPort)
		for _, tc := range []struct {
			what    string
			src     netip.Addr
			actions string
			want    int
		}{
			{"docker1's own source, relayed", own, relayTo2, 1},
			{"docker3's source, relayed", r.cts["docker3"].Addr.Addr().Next(), relayTo2, 0},
			{"docker2's source, relayed", dst.Next(), relayTo2, 0},
			// Marked "relayed from docker1" by docker1 itself, on the direct tunnel
			// (up for this case only): docker2 takes that mark only from docker3.
			{"a relayed-from mark not from the relay", own, "load:0x400001->NXM_NX_TUN_ID[],output:" + strconv.Itoa(toDocker2.OFPort), 0},
		} {
			if strings.Contains(tc.actions, "0x400001") {
				restore()
				r.waitBFD("docker1", toDocker2.Name, "up")
			}
			id := uint16(0x4300 + tc.want)
			filter := fmt.Sprintf("icmp and src host %s and dst host %s", tc.src, dst)
			seen := countSeen(t, filter, func() {
				r.ofctl("docker1", "packet-out", "br0", fmt.Sprintf("in_port=LOCAL packet=%s actions=%s", icmpFrame(tc.src, dst, id), tc.actions))
			}, r.cts["docker2"])
			if got := seen[r.cts["docker2"].Name]; got != tc.want {
				t.Errorf("%s: docker2's container saw the frame %d times, want %d", tc.what, got, tc.want)
			}
		}
	})
}

// rxPackets returns the packets host's underlay interface has received.
func (r *relayLab) rxPackets(host string) int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := r.host(host).Run(ctx, "cat", "/sys/class/net/eth0/statistics/rx_packets")
	if err != nil {
		r.t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}
