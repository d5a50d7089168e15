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

// TestCLIReadsTypedOVSState: the command layer, and status and the adapters it
// wires, read live OVS state only through ovsdb's typed reading, never its raw
// maps.
func TestCLIReadsTypedOVSState(t *testing.T) {
	var files []string
	for _, dir := range []string{"../cli", "../adapters", "../../status"} {
		fs, err := filepath.Glob(dir + "/*.go")
		if err != nil || len(fs) == 0 {
			t.Fatalf("no files in %s (%v)", dir, err)
		}
		files = append(files, fs...)
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
