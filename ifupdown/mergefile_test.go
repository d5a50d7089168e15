package ifupdown

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestMergeFile: a missing file is merged from nothing and written, the same
// merge again writes nothing, and a failing merge leaves the file as it was.
func TestMergeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "daemon.json")
	var seen []string
	merge := func(old []byte) ([]byte, error) {
		seen = append(seen, string(old))
		return []byte("{\"mtu\": 1462}\n"), nil
	}
	if changed, err := MergeFile(path, merge); err != nil || !changed {
		t.Fatalf("first merge: changed=%v err=%v", changed, err)
	}
	if changed, err := MergeFile(path, merge); err != nil || changed {
		t.Errorf("second merge: changed=%v err=%v, want nothing written", changed, err)
	}
	if len(seen) != 2 || seen[0] != "" || seen[1] != "{\"mtu\": 1462}\n" {
		t.Errorf("merge saw %q, want nothing then the written content", seen)
	}
	_, err := MergeFile(path, func([]byte) ([]byte, error) { return nil, errors.New("line 3: bad") })
	if err == nil || err.Error() != path+": line 3: bad" {
		t.Errorf("failing merge: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"mtu\": 1462}\n" {
		t.Errorf("after a failing merge the file holds %q", b)
	}
}
