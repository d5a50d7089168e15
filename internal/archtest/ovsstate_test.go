package archtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawOVSState are what reading ovs-vswitchd's string maps looks like: the
// columns and keys that package ovsdb decodes (ovsdb.PortStatus's BFDState,
// STPState, RSTPState, Tunnel).
var rawOVSState = []string{
	".BFDStatus", ".STPStatus", ".RSTPStatus", `.BFD["`,
	"bfd_status", "flap_count", "stp_state", "stp_role", "rstp_port_state", "rstp_port_role",
	`"gre"`, `"vxlan"`,
}

// TestCLIReadsTypedOVSState: the command layer reads live OVS state only through
// ovsdb's typed reading, never its raw maps.
func TestCLIReadsTypedOVSState(t *testing.T) {
	files, err := filepath.Glob("../cli/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in internal/cli (%v)", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, raw := range rawOVSState {
				if strings.Contains(line, raw) {
					t.Errorf("%s:%d reads %s: use ovsdb's typed state (see ovsdb/tunnelstate.go)", filepath.Base(f), i+1, raw)
				}
			}
		}
	}
}
