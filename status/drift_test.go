package status

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ovsmesh/ovsmesh/controller"
	"github.com/ovsmesh/ovsmesh/firewall"
)

// TestDrift: every change of the pass is drift, a failed step but docker is an
// error, and the host matches only with neither; the text says which.
func TestDrift(t *testing.T) {
	for _, c := range []struct {
		name string
		res  controller.Result
		text string
	}{
		{"matches", controller.Result{Steps: []controller.Step{{Name: controller.StepOVSDB}}},
			"drift: none, the host matches the plan\n"},
		{"changes", controller.Result{Steps: []controller.Step{{Name: controller.StepOVSDB, Changes: []string{"add port gre-h2"}}, {Name: controller.StepFiles, Changes: []string{"write /etc/network/interfaces"}}}},
			"drift: 2 changes would be made by apply:\n  ovsdb: add port gre-h2\n  files: write /etc/network/interfaces\n"},
		{"docker fails", controller.Result{Steps: []controller.Step{{Name: controller.StepDocker, Err: errors.New("Docker not reachable")}}},
			"drift: nothing for apply to change, but the host does not match the plan (see above)\n"},
		{"preflight refuses", controller.Result{Steps: []controller.Step{{Name: controller.StepGuard, Err: errors.New("bridge \"br0\" was not built by ovsmesh")}}},
			"drift: nothing for apply to change, but the host does not match the plan (see above)\nerror: preflight: bridge \"br0\" was not built by ovsmesh\n"},
	} {
		rep := &Report{Flows: map[string]int{}, Firewall: []firewall.RuleState{}}
		addDrift(rep, c.res)
		var b bytes.Buffer
		rep.WriteText(&b)
		want := "no bridge carries ovsmesh's owner mark\nfirewall: table inet ovsmesh, tunnel packets from the containers dropped:\n  CHAIN  RULE  PACKETS\nidentity: no table bridge ovsmesh\n" + c.text
		if b.String() != want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, b.String(), want)
		}
	}
}
