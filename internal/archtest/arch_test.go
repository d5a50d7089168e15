package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ovsmesh/ovsmesh/"

type pkg struct {
	ImportPath string
	Doc        string
	Deps       []string
	GoFiles    []string
	Name       string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImports enforces the dependency graph topology ← {adapters, controller} ←
// cmd: topology reaches no project package, no OVSDB, netlink or process
// execution; controller reaches no adapter.
func TestImports(t *testing.T) {
	rules := map[string][]string{
		module + "topology":   {module, "libovsdb", "vishvananda", "go-openvswitch", "os/exec"},
		module + "controller": {module + "ovsdb", module + "openflow", module + "linuxbridge", module + "ifupdown", "libovsdb", "vishvananda", "go-openvswitch", "os/exec"},
		module + "ifupdown":   {"libovsdb", "vishvananda", "go-openvswitch", "os/exec"},
	}
	for _, p := range listPackages(t) {
		for _, dep := range p.Deps {
			for _, bad := range rules[p.ImportPath] {
				if strings.HasPrefix(dep, bad) || strings.Contains(dep, "/"+bad) || dep == bad {
					if dep == module+"topology" && p.ImportPath != module+"topology" {
						continue
					}
					t.Errorf("%s must not depend on %s", p.ImportPath, dep)
				}
			}
		}
	}
}

// TestPackageDocs: every package says what it owns, in exactly one file.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" {
			t.Errorf("%s has no package doc", p.ImportPath)
		}
	}
	out, err := exec.Command("sh", "-c", `cd ../.. && grep -l --include='*.go' --exclude='*_test.go' -r '^// Package ' . | xargs -n1 dirname | sort | uniq -d`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("packages with more than one package doc: %s", s)
	}
}
