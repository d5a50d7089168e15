package topology

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./topology -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./topology -update rewrites it):\n%s", path, got)
	}
}

// TestExamplesValid loads every example so that none of them can go stale.
func TestExamplesValid(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) < 4 {
		t.Fatalf("found %d examples, want at least 4", len(files))
	}
	for _, f := range files {
		topo, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, h := range topo.Hosts {
			if _, err := topo.Desired(h.Name); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

func TestPlanGolden(t *testing.T) {
	for _, c := range []struct{ example, host string }{
		{"classic-gre", "docker1"},
		{"vxlan-mesh", "node-b"},
		{"tree", "rack1-a"},
		{"lab", "docker1"},
	} {
		topo, err := Load("../examples/" + c.example + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		s, err := topo.Desired(c.host)
		if err != nil {
			t.Fatal(err)
		}
		var text, js, dot bytes.Buffer
		if err := topo.WriteText(&text, s); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&js, s); err != nil {
			t.Fatal(err)
		}
		if err := topo.WriteDot(&dot); err != nil {
			t.Fatal(err)
		}
		golden(t, c.example+".plan.txt", text.Bytes())
		golden(t, c.example+".plan.json", js.Bytes())
		golden(t, c.example+".dot", dot.Bytes())
	}
}

// TestTreeExample pins the tree the example's costs must give.
func TestTreeExample(t *testing.T) {
	topo, err := Load("../examples/tree.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range topo.Edges() {
		got = append(got, e.A+"-"+e.B)
	}
	want := "rack1-a-rack1-b rack1-a-rack2-a rack1-b-rack1-c rack2-a-rack2-b"
	if strings.Join(got, " ") != want {
		t.Errorf("tree %v, want %s", got, want)
	}
}

func TestUnknownHost(t *testing.T) {
	topo, err := Load("../examples/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = topo.Desired("docker9")
	want := `host "docker9" is not in ../examples/lab.yaml (known hosts: docker1, docker2, docker3)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
