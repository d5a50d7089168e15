package ifupdown

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestFilesReuseTheirLastMerge: a pass that finds the interfaces file and the
// block as the last merge left them reuses its result, without parsing the file;
// a file edited since (inside the block or outside it) or another block is
// merged again, so a hand edit is kept and a change to the block repaired as
// without the memory.
func TestFilesReuseTheirLastMerge(t *testing.T) {
	f, _ := newFiles(t)
	s := desired(t, "../examples/classic-gre.yaml", "docker1")
	ctx := context.Background()
	if _, err := f.Apply(ctx, s, false); err != nil {
		t.Fatal(err)
	}
	if changes, err := f.Apply(ctx, s, false); err != nil || len(changes) != 0 {
		t.Fatalf("second apply: %q, %v", changes, err)
	}
	written, _ := os.ReadFile(f.Interfaces)
	if string(f.last.old) != string(written) || string(f.last.out) != string(written) {
		t.Fatal("the second apply's merge is not remembered")
	}
	out := &f.last.out[0]
	if changes, err := f.Apply(ctx, s, false); err != nil || len(changes) != 0 || &f.last.out[0] != out {
		t.Fatalf("third apply: %q, %v, remembered merge replaced: %v; want the last merge reused", changes, err, &f.last.out[0] != out)
	}

	// Edited by hand outside the block: kept, nothing written.
	edited := string(written) + "\nauto eth9\niface eth9 inet manual\n"
	if err := os.WriteFile(f.Interfaces, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if changes, err := f.Apply(ctx, s, false); err != nil || len(changes) != 0 {
		t.Fatalf("apply after a hand edit outside the block: %q, %v", changes, err)
	}
	// Edited inside the block: repaired.
	broken := strings.Replace(edited, "ovs_type", "ovs_tipe", 1)
	if broken == edited {
		t.Fatal("the block has no ovs_type: the test proves nothing")
	}
	if err := os.WriteFile(f.Interfaces, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if changes, err := f.Apply(ctx, s, false); err != nil || len(changes) != 1 {
		t.Fatalf("apply after an edit inside the block: %q, %v; want the file written", changes, err)
	}
	if b, _ := os.ReadFile(f.Interfaces); string(b) != edited {
		t.Errorf("after the repair:\n%s\nwant:\n%s", b, edited)
	}
}
