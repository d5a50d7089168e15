package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/ovsmesh/ovsmesh/topology"
)

// Render writes the topology file of a fleet view: the network settings as given
// and the hosts sorted by index. The same settings and hosts always give the same
// bytes, so every host that sees one revision compiles the same topology.
func Render(network map[string]any, hosts []Record) ([]byte, error) {
	b, err := renderNetwork(network)
	if err != nil {
		return nil, err
	}
	sorted := slices.Clone(hosts)
	slices.SortFunc(sorted, func(a, b Record) int { return a.Index - b.Index })
	b.WriteString("hosts:\n")
	for _, h := range sorted {
		fmt.Fprintf(b, "  - {name: %s, address: %s, index: %d}\n", strconv.Quote(h.Name), strconv.Quote(h.Address.String()), h.Index)
	}
	return b.Bytes(), nil
}

// Compile renders and compiles a view, through the same parsing, defaults and
// validation as a topology file; name is used in error messages.
func Compile(name string, network map[string]any, hosts []Record) (*topology.Topology, []byte, error) {
	text, err := Render(network, hosts)
	if err != nil {
		return nil, nil, err
	}
	t, err := topology.Compile(name, text)
	return t, text, err
}

// renderNetwork starts a view's topology file: its header line and the network
// settings.
func renderNetwork(network map[string]any) (*bytes.Buffer, error) {
	var b bytes.Buffer
	b.WriteString("# written by ovsmesh fleet: the hosts are those registered in etcd\n")
	settings, networks := splitNetworks(network)
	top := map[string]any{"network": settings}
	if networks != nil {
		top[NetworksKey] = networks
	}
	netYAML, err := yaml.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("render network settings: %w", err)
	}
	b.Write(netYAML)
	return &b, nil
}

// Slots is the number of host indexes the network settings allow (indexes 1 to
// Slots), or an error when the settings are not valid on their own
// (topology.CompileNetwork).
func Slots(network map[string]any) (int, error) {
	b, err := renderNetwork(network)
	if err != nil {
		return 0, err
	}
	t, err := topology.CompileNetwork("network", b.Bytes())
	if err != nil {
		return 0, err
	}
	if t.Slots() < 1 {
		return 0, errors.New("the network settings allow no host")
	}
	return t.Slots(), nil
}
