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
	Imports    []string
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

// layers says, for each package, which ovsmesh packages it may reach (directly or
// not) and which outside code it must never reach: the dependency graph
// topology ← {adapters, controller} ← {metrics} ← cli ← cmd.
var layers = map[string]struct {
	project   []string // ovsmesh packages it may reach, besides itself
	forbidden []string // substrings of packages it must not reach
}{
	"topology":    {nil, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "net/http", "prometheus", "moby"}},
	"ovsdb":       {[]string{"topology", "ovsdb/vswitchd"}, []string{"vishvananda", "go-openvswitch", "os/exec"}},
	"openflow":    {[]string{"topology"}, []string{"libovsdb", "vishvananda"}},
	"linuxbridge": {[]string{"topology"}, []string{"libovsdb", "go-openvswitch", "os/exec"}},
	"ifupdown":    {[]string{"topology"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec"}},
	"firewall":    {[]string{"topology"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "moby"}},
	"controller":  {[]string{"topology"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "prometheus", "moby"}},
	"metrics":     {[]string{"controller", "topology"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec"}},
	"fleet":       {[]string{"topology"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "prometheus"}},
	// The topology sources of the loop (controller.Source): topofile reads the
	// file, fleet/agent follows etcd through fleet; they reach no adapter but
	// ifupdown's atomic write of the saved view.
	"topofile":    {[]string{"topology", "controller"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "prometheus", "moby", "go.etcd.io"}},
	"fleet/agent": {[]string{"topology", "controller", "fleet", "ifupdown"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "moby"}},
	// hostcheck probes the host (ping, netlink reads of routes, addresses and
	// links, one read-only OVSDB read of every bridge through ovsdb's
	// ReadInventory: libovsdb only through ovsdb, see TestImports; Docker's
	// network through dockerapi) and judges purely; it changes nothing.
	"hostcheck": {[]string{"topology", "ovsdb", "ovsdb/vswitchd", "dockerapi"}, []string{"go-openvswitch", "go.etcd.io"}},
	// dockerapi reads Docker's networks over its Engine API (moby's client),
	// read-only; it reaches no other side effect.
	"dockerapi": {[]string{"topology"}, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "prometheus", "go.etcd.io"}},
	// status reads what `ovsmesh status` shows through the adapters and the
	// controller's read-only Drift; it never reaches etcd, the metrics or the
	// command line (libovsdb, through ovsdb, brings prometheus's client along).
	"status": {[]string{"topology", "controller", "ovsdb", "ovsdb/vswitchd", "openflow", "linuxbridge", "firewall", "dockerapi"},
		[]string{"go.etcd.io", "cobra"}},
	// internal/adapters fits the adapters to the controller's interfaces; it
	// reaches no OVSDB library (the guard takes ovsdb's client as an interface),
	// etcd, metrics or the command line.
	"internal/adapters": {[]string{"topology", "controller", "linuxbridge", "openflow", "internal/sdnotify"},
		[]string{"libovsdb", "go.etcd.io", "prometheus", "cobra", "moby"}},
	// testenv is the tests' skip policy and fixtures (internal/lab delegates to
	// it): the standard library only, so any test or the lab may import it.
	"internal/testenv": {nil, []string{"libovsdb", "vishvananda", "go-openvswitch", "prometheus", "moby", "go.etcd.io", "yaml", "cobra"}},
	// sdnotify speaks to systemd with the standard library only.
	"internal/sdnotify": {nil, []string{"libovsdb", "vishvananda", "go-openvswitch", "os/exec", "prometheus", "yaml"}},
}

// TestImports enforces layers, that ovsdb is the only package that imports
// libovsdb itself, fleet the only one that imports etcd and dockerapi the only
// one that imports Docker's Engine API client (github.com/moby/moby).
func TestImports(t *testing.T) {
	for _, p := range listPackages(t) {
		name := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if strings.Contains(imp, "libovsdb") && name != "ovsdb" && name != "ovsdb/vswitchd" {
				t.Errorf("%s imports %s: only ovsdb may", name, imp)
			}
			if strings.HasPrefix(imp, "go.etcd.io/") && name != "fleet" {
				t.Errorf("%s imports %s: only fleet may", name, imp)
			}
			if strings.HasPrefix(imp, "github.com/moby/") && name != "dockerapi" {
				t.Errorf("%s imports %s: only dockerapi may", name, imp)
			}
		}
		rule, ok := layers[name]
		if !ok {
			continue
		}
	deps:
		for _, dep := range p.Deps {
			if rel, ours := strings.CutPrefix(dep, module); ours {
				for _, allowed := range rule.project {
					if rel == allowed {
						continue deps
					}
				}
				t.Errorf("%s must not depend on %s", name, rel)
				continue
			}
			for _, bad := range rule.forbidden {
				if strings.Contains(dep, bad) {
					t.Errorf("%s must not depend on %s", name, dep)
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
