package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidFiles compiles every testdata/invalid/NAME.yaml and compares the
// error, one problem a line, with testdata/invalid/NAME.err (go test ./topology
// -update rewrites them; read the diff before committing). Each file is one
// mistake a hand-edited topology makes; the message must name the line of the
// mistake, where yaml.v3 alone names a line before it.
func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 15 {
		t.Fatalf("found %d files in testdata/invalid, want at least 15", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			topo, err := Compile(name, data)
			if err == nil {
				t.Fatalf("Compile accepted %s: %+v", path, topo.Network)
			}
			if n := len(Problems(err)); n != strings.Count(err.Error(), "\n")+1 {
				t.Errorf("Problems returned %d, the message has %d lines", n, strings.Count(err.Error(), "\n")+1)
			}
			golden(t, filepath.Join("invalid", strings.TrimSuffix(name, ".yaml")+".err"), []byte(err.Error()+"\n"))
		})
	}
}

// TestSyntaxLineInBigFile: in a 10,000-host file the search for the faulty line
// still lands on it, whether the mistake is near the top, in the middle or on the
// last line.
func TestSyntaxLineInBigFile(t *testing.T) {
	const hosts = 10000
	var sb strings.Builder
	sb.WriteString("network:\n  encap: vxlan\n  subnet: 240.0.0.0/4\n  slice_prefix: 18\nhosts:\n")
	for i := 1; i <= hosts; i++ {
		fmt.Fprintf(&sb, "  - {name: host%05d, address: 10.%d.%d.%d, index: %d}\n", i, i>>16, (i>>8)&255, i&255, i)
	}
	lines := strings.SplitAfter(sb.String(), "\n")
	for _, line := range []int{9, 5002, len(lines) - 1} {
		broken := append([]string(nil), lines[:line-1]...)
		broken = append(broken, "   stray: 1\n")
		broken = append(broken, lines[line-1:]...)
		_, err := Compile("big.yaml", []byte(strings.Join(broken, "")))
		want := fmt.Sprintf("big.yaml:%d:4: invalid YAML: did not find expected '-' indicator", line)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("stray key on line %d: got %v, want %s (...)", line, err, want)
		}
	}
}

// BenchmarkSyntaxErrorAtEnd10000 is the cost of finding the line of a syntax
// error on the last line of a 10,000-host file of 30,005 lines, the worst case of
// the search: every parse but the last reads the whole file (compare with
// BenchmarkPlan10000 for a valid file).
func BenchmarkSyntaxErrorAtEnd10000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("network:\n  encap: vxlan\n  subnet: 240.0.0.0/4\n  slice_prefix: 18\nhosts:\n")
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&sb, "  - name: host%05d\n    address: 10.%d.%d.%d\n    index: %d\n", i, i>>16, (i>>8)&255, i&255, i)
	}
	sb.WriteString("   stray: 1\n")
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		_, err := Compile("big.yaml", data)
		if ps := Problems(err); len(ps) != 1 || ps[0].Pos.Line != 30006 {
			b.Fatalf("want one problem on line 30006, got %v", err)
		}
	}
}
