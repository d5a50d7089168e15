package topology

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile: no input makes the parser, validator or planner panic, and every
// rejection carries at least one positioned problem.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(base))
	f.Add([]byte("hosts: [{name: a, address: '::1', index: 1}]\nlinks: [{a: a, b: a}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Compile("fuzz.yaml", data)
		if err != nil {
			if len(Problems(err)) == 0 {
				t.Fatalf("error without a problem: %v", err)
			}
			return
		}
		for _, h := range topo.Hosts {
			if _, err := topo.Desired(h.Name); err != nil {
				t.Fatal(err)
			}
		}
		if n, count := len(topo.Edges()), topo.EdgeCount(); n != count {
			t.Fatalf("EdgeCount() = %d, len(Edges()) = %d", count, n)
		}
	})
}
