package openflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Paths returns, for each tunnel port of a mesh with bfd: true, the ports its
// TableSend flow chooses from, in the flow's order (see topology.ChoosePath); a
// tunnel sent to directly, without a choice (its BFD session was never up), has
// its own port only. It reads the table as installed, for `ovsmesh status`.
func (t *Table) Paths(ctx context.Context) (map[int][]int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out, err := t.ofctl(ctx, "--no-stats", "dump-flows", t.bridge,
		ourCookieMatch+",table="+strconv.Itoa(topology.TableSend))
	if err != nil {
		return nil, fmt.Errorf("read the relay choices of bridge %q: %w", t.bridge, err)
	}
	return pathMembers(out), nil
}

// pathMembers reads the bundle_load members of TableSend's flows:
//
//	table=9, priority=100,reg6=0x8002 actions=bundle_load(eth_src,0,active_backup,ofport,NXM_NX_REG7[0..15],members:32770,32771),resubmit(,10)
//	table=9, priority=100,reg6=0x8004 actions=load:0->NXM_NX_TUN_ID[],output:32772
func pathMembers(out []byte) map[int][]int {
	paths := map[int][]int{}
	for line := range strings.Lines(string(out)) {
		_, after, ok := strings.Cut(line, "members:")
		if !ok {
			if _, port, direct := strings.Cut(strings.TrimSpace(line), "load:0->NXM_NX_TUN_ID[],output:"); direct {
				if n, err := strconv.Atoi(port); err == nil {
					paths[n] = []int{n}
				}
			}
			continue
		}
		list, _, _ := strings.Cut(after, ")")
		var ports []int
		for p := range strings.SplitSeq(list, ",") {
			n, err := strconv.Atoi(p)
			if err != nil {
				ports = nil
				break
			}
			ports = append(ports, n)
		}
		if len(ports) > 1 {
			paths[ports[0]] = ports
		}
	}
	return paths
}
