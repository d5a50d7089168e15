package hostcheck

// OVSDBFacts is what one read of the Open vSwitch database found.
type OVSDBFacts struct {
	Endpoint   string
	Err        string // the server did not answer, or the read failed
	OVSVersion string // Open_vSwitch.ovs_version (written by ovs-vswitchd)
	DBVersion  string // Open_vSwitch.db_version: the schema's version
	Bridges    []OVSBridge
}

// OVSBridge is one bridge and the interfaces of its ports.
type OVSBridge struct {
	Name     string
	Datapath string // datapath_type: "" is system
	Ifaces   []OVSIface
}

// OVSIface is one interface of one port.
type OVSIface struct {
	Port, Name, Type string
	Options          map[string]string
	Owned            bool // the port or interface carries ovsmesh's owner mark
}

// ModuleState is what the host has of the openvswitch kernel module.
type ModuleState string

// The module states.
const (
	ModuleLoaded   ModuleState = "loaded"
	ModuleLoadable ModuleState = "loadable"
	ModuleAbsent   ModuleState = "absent"
)
