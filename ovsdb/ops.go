package ovsdb

import (
	"fmt"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovsmesh/ovsmesh/ovsdb/vswitchd"
)

// opsBuilder turns a plan into the operations of one transaction. libovsdb only
// builds operations here (from its model mapping); nothing is sent.
type opsBuilder struct {
	api   client.API
	ops   []ovsdb.Operation
	err   error
	named int
}

func (b *opsBuilder) add(ops []ovsdb.Operation, err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
	b.ops = append(b.ops, ops...)
}

// name returns a new named UUID. ovsdb-server accepts only [_a-zA-Z][_a-zA-Z0-9]*,
// so "gre-docker3" becomes "port_gre_docker3_1".
func (b *opsBuilder) name(kind, row string) string {
	b.named++
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, row)
	return fmt.Sprintf("%s_%s_%d", kind, clean, b.named)
}

// operations builds the transaction for p: new rows first (referenced by named
// UUID from their parents in the same transaction, or OVSDB would garbage-collect
// them), then updates and mutations, then next_cfg += 1 and a select of next_cfg,
// which tells Apply which configuration ovs-vswitchd must reach.
func operations(api client.API, p plan, root string) ([]ovsdb.Operation, error) {
	b := &opsBuilder{api: api}
	var newPorts []string
	for _, pp := range p.Ports {
		if pp.Create {
			newPorts = append(newPorts, b.createPort(pp))
		}
	}
	if len(p.DropBridges) > 0 {
		uuids := make([]string, len(p.DropBridges))
		for i, d := range p.DropBridges {
			uuids[i] = d.UUID
		}
		r := &vswitchd.OpenvSwitch{UUID: root}
		// OVSDB garbage-collects the bridge's ports and interfaces with it.
		b.add(api.Where(r).Mutate(r, model.Mutation{Field: &r.Bridges, Mutator: ovsdb.MutateOperationDelete, Value: uuids}))
	}
	if p.Bridge.Create {
		b.createBridge(p.Bridge, newPorts, root)
	} else {
		b.updateBridge(p.Bridge, newPorts, p.Deletes)
	}
	for _, pp := range p.Ports {
		if !pp.Create {
			b.updatePort(pp)
		}
	}
	r := &vswitchd.OpenvSwitch{UUID: root}
	b.add(api.Where(r).Mutate(r, model.Mutation{Field: &r.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1}))
	b.add(api.Where(r).Select(r, &r.NextCfg))
	return b.ops, b.err
}

// createPort inserts an Interface and its Port and returns the Port's named UUID.
func (b *opsBuilder) createPort(pp portPlan) string {
	iface := pp.Iface
	iface.UUID = b.name("iface", iface.Name)
	b.add(b.api.Create(&iface))
	port := pp.Port
	port.UUID = b.name("port", port.Name)
	port.Interfaces = []string{iface.UUID}
	b.add(b.api.Create(&port))
	return port.UUID
}

func (b *opsBuilder) createBridge(bp bridgePlan, ports []string, root string) {
	br := bp.Want
	br.UUID = b.name("bridge", br.Name)
	br.Ports = ports
	b.add(b.api.Create(&br))
	r := &vswitchd.OpenvSwitch{UUID: root}
	b.add(b.api.Where(r).Mutate(r, model.Mutation{Field: &r.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{br.UUID}}))
}

// updateBridge sets the differing managed columns by an Update naming them, and
// changes ports and our external_ids key by mutation: replacing the whole set or
// map would drop what other writers (the operator) put there.
func (b *opsBuilder) updateBridge(bp bridgePlan, newPorts []string, deletes []portDelete) {
	br := bp.Want
	br.UUID = bp.UUID
	if len(bp.Update) > 0 {
		fields := make([]any, 0, len(bp.Update))
		for _, col := range bp.Update {
			fields = append(fields, bridgeField(&br, col))
		}
		b.add(b.api.Where(&vswitchd.Bridge{UUID: br.UUID}).Update(&br, fields...))
	}
	var muts []model.Mutation
	if len(newPorts) > 0 {
		muts = append(muts, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: newPorts})
	}
	if len(deletes) > 0 {
		uuids := make([]string, len(deletes))
		for i, d := range deletes {
			uuids[i] = d.UUID
		}
		muts = append(muts, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: uuids})
	}
	muts = append(muts, keyMutations(&br.ExternalIDs, nil, bp.Keys)...)
	if len(muts) > 0 {
		b.add(b.api.Where(&vswitchd.Bridge{UUID: br.UUID}).Mutate(&br, muts...))
	}
}

func bridgeField(br *vswitchd.Bridge, col string) any {
	switch col {
	case "datapath_type":
		return &br.DatapathType
	case "fail_mode":
		return &br.FailMode
	case "protocols":
		return &br.Protocols
	case "rstp_enable":
		return &br.RSTPEnable
	case "stp_enable":
		return &br.STPEnable
	}
	panic("ovsdb: unmanaged bridge column " + col)
}

// updatePort changes an existing (owned or adopted) port and its interface.
func (b *opsBuilder) updatePort(pp portPlan) {
	iface := pp.Iface
	iface.UUID = pp.IfaceUUID
	if iface.UUID == "" {
		iface.UUID = b.name("iface", iface.Name)
		b.add(b.api.Create(&iface))
	} else {
		if len(pp.IfaceUpdate) > 0 {
			fields := make([]any, 0, len(pp.IfaceUpdate))
			for _, col := range pp.IfaceUpdate {
				fields = append(fields, ifaceField(&iface, col))
			}
			b.add(b.api.Where(&vswitchd.Interface{UUID: iface.UUID}).Update(&iface, fields...))
		}
		if muts := keyMutations(&iface.ExternalIDs, nil, pp.IfaceKeys); len(muts) > 0 {
			b.add(b.api.Where(&vswitchd.Interface{UUID: iface.UUID}).Mutate(&iface, muts...))
		}
	}
	port := pp.Port
	port.UUID = pp.PortUUID
	if pp.SetInterfaces {
		port.Interfaces = []string{iface.UUID}
		b.add(b.api.Where(&vswitchd.Port{UUID: port.UUID}).Update(&port, &port.Interfaces))
	}
	if muts := keyMutations(&port.ExternalIDs, &port.OtherConfig, pp.PortKeys); len(muts) > 0 {
		b.add(b.api.Where(&vswitchd.Port{UUID: port.UUID}).Mutate(&port, muts...))
	}
}

func ifaceField(i *vswitchd.Interface, col string) any {
	switch col {
	case "type":
		return &i.Type
	case "options":
		return &i.Options
	case "bfd":
		return &i.BFD
	case "ofport_request":
		return &i.OfportRequest
	case "mtu_request":
		return &i.MTURequest
	}
	panic("ovsdb: unmanaged interface column " + col)
}

// keyMutations changes single keys of external_ids (and other_config): a map
// insert never overwrites an existing key, so a changed value is deleted first;
// mutations of one operation apply in order.
func keyMutations(externalIDs, otherConfig *map[string]string, changes []keyChange) []model.Mutation {
	var muts []model.Mutation
	for _, k := range changes {
		field := externalIDs
		if k.Column == "other_config" {
			field = otherConfig
		}
		if k.Old != nil {
			muts = append(muts, model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: []string{k.Key}})
		}
		if k.New != nil {
			muts = append(muts, model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: map[string]string{k.Key: *k.New}})
		}
	}
	return muts
}
