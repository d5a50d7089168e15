package status

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/ovsmesh/ovsmesh/firewall"
	"github.com/ovsmesh/ovsmesh/topology"
)

// Identity is the identity table (table bridge ovsmesh) as status shows it: the
// containers it checks and the frames it dropped.
type Identity struct {
	Containers []string `json:"containers"`
	Dropped    uint64   `json:"dropped"`
}

// collectIdentity reads the identity table; nil when there is none.
func collectIdentity(ctx context.Context, rep *Report, log *slog.Logger) *Identity {
	chains, ok, err := firewall.NewIdentity(log).State(ctx, topology.IdentityTableName)
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("read table bridge %s: %v", topology.IdentityTableName, err))
	}
	if !ok {
		return nil
	}
	st := &Identity{Containers: []string{}}
	for _, c := range chains {
		st.Containers = append(st.Containers, c.Container)
		for _, n := range c.Dropped {
			st.Dropped += n
		}
	}
	sort.Strings(st.Containers)
	return st
}

// writeIdentity writes one line: the containers whose identity is checked.
func writeIdentity(w io.Writer, st *Identity) {
	if st == nil {
		fmt.Fprintf(w, "identity: no table bridge %s\n", topology.IdentityTableName)
		return
	}
	fmt.Fprintf(w, "identity: table bridge %s checks %d containers (%s); frames with another's identity dropped: %d\n",
		topology.IdentityTableName, len(st.Containers), orDash(strings.Join(st.Containers, ", ")), st.Dropped)
}
