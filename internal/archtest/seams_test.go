package archtest

import (
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The seams of issue 16: the controller takes its topology from a Source and
// reads no file and no etcd itself; the Sources (topofile, fleet/agent) and the
// adapters live in packages of their own, which internal/cli only wires.

// topologySources are the packages that read a topology from a file or etcd:
// the controller reaches none of them.
var topologySources = []string{module + "topofile", module + "fleet", module + "fleet/agent", "go.etcd.io/"}

// fileReading are the os functions that read or watch files.
var fileReading = []string{"ReadFile", "Open", "OpenFile", "Stat", "Lstat", "ReadDir", "DirFS"}

// TestControllerReadsNoTopology: the controller depends on no topology source
// and calls no os function that reads a file: a Source hands it the topology.
func TestControllerReadsNoTopology(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"controller" {
			continue
		}
		for _, dep := range p.Deps {
			for _, src := range topologySources {
				if dep == src || strings.HasPrefix(dep, src) && strings.HasSuffix(src, "/") {
					t.Errorf("controller depends on %s: it takes its topology from a controller.Source", dep)
				}
			}
		}
		for _, f := range p.GoFiles {
			for _, call := range osCalls(t, filepath.Join("..", "..", "controller", f)) {
				if slices.Contains(fileReading, call.name) {
					t.Errorf("controller/%s:%d calls os.%s: the controller reads no file (see controller.Source)", f, call.line, call.name)
				}
			}
		}
		return
	}
	t.Fatal("package controller not listed")
}

type osCall struct {
	name string
	line int
}

// osCalls returns the selectors of package os that a Go file uses.
func osCalls(t *testing.T, path string) []osCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	local := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"os"` {
			local = "os"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	var out []osCall
	if local == "" {
		return nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local {
				out = append(out, osCall{sel.Sel.Name, fset.Position(sel.Pos()).Line})
			}
		}
		return true
	})
	return out
}

// TestOnlyFleetImportsEtcd: package fleet is the only importer of etcd's
// client; fleet/agent, the host's side of fleet mode, reaches etcd through it.
func TestOnlyFleetImportsEtcd(t *testing.T) {
	importers := 0
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "go.etcd.io/") {
				continue
			}
			if p.ImportPath != module+"fleet" {
				t.Errorf("%s imports %s: only package fleet may", strings.TrimPrefix(p.ImportPath, module), imp)
			} else {
				importers++
			}
		}
	}
	if importers == 0 {
		t.Error("package fleet imports no etcd package: the test's premise changed")
	}
}

// TestCLIImplementsNoControllerInterface: internal/cli only wires; no type of
// it implements one of the controller's interfaces (Source, Observer, Guard,
// the adapters): those live in packages another command could use.
func TestCLIImplementsNoControllerInterface(t *testing.T) {
	cli := typeCheck(t, module+"internal/cli")
	// The controller as internal/cli sees it: the same types as its own.
	i := slices.IndexFunc(cli.Imports(), func(p *types.Package) bool { return p.Path() == module+"controller" })
	if i < 0 {
		t.Fatal("internal/cli does not import controller: the test's premise changed")
	}
	ctrl := cli.Imports()[i]
	var ifaces []*types.TypeName
	for _, name := range ctrl.Scope().Names() {
		if tn, ok := ctrl.Scope().Lookup(name).(*types.TypeName); ok && tn.Exported() && types.IsInterface(tn.Type()) {
			ifaces = append(ifaces, tn)
		}
	}
	if len(ifaces) < 5 {
		t.Fatalf("controller declares %d interfaces: the test's premise changed", len(ifaces))
	}
	for _, name := range cli.Scope().Names() {
		tn, ok := cli.Scope().Lookup(name).(*types.TypeName)
		if !ok || types.IsInterface(tn.Type()) {
			continue
		}
		for _, iface := range ifaces {
			it := iface.Type().Underlying().(*types.Interface)
			if types.Implements(tn.Type(), it) || types.Implements(types.NewPointer(tn.Type()), it) {
				t.Errorf("internal/cli's %s implements controller.%s: put it in a package of its own (or the adapter's) and wire it from internal/cli", name, iface.Name())
			}
		}
	}
}

// typeCheck type-checks the non-test files of an ovsmesh package against the
// export data of its dependencies (go list -export).
func typeCheck(t *testing.T, path string) *types.Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-json", path)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export %s: %v", path, err)
	}
	exports := map[string]string{}
	var target struct {
		Dir     string
		GoFiles []string
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath, Export, Dir string
			GoFiles                 []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if p.ImportPath == path {
			target.Dir, target.GoFiles = p.Dir, p.GoFiles
		}
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range target.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(target.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(p string) (io.ReadCloser, error) { return os.Open(exports[p]) })
	pkg, err := (&types.Config{Importer: imp}).Check(path, fset, files, nil)
	if err != nil {
		t.Fatalf("type-check %s: %v", path, err)
	}
	return pkg
}
