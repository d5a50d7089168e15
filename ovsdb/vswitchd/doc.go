// Package vswitchd holds the libovsdb models of the Open_vSwitch database, generated
// by libovsdb's modelgen from the schema Debian's openvswitch-common installs (schema
// 8.3.1, Open vSwitch 3.1). Only package ovsdb may import it; it imports nothing of
// ovsmesh. Regenerate with `go generate ./ovsdb/vswitchd` after a schema change; do
// not edit the generated files.
package vswitchd

//go:generate go tool modelgen -p vswitchd -o . /usr/share/openvswitch/vswitch.ovsschema
