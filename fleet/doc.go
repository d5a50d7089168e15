// Package fleet keeps a cluster's topology in etcd instead of a file: hosts register
// themselves and claim the smallest free index once and for all, hold a lease that
// says they are alive, and every host turns the same etcd view into the same
// topology.Topology. It is the only ovsmesh package that talks to etcd; the
// controller never sees it, it only receives the topology it builds.
//
// Keys, all under /ovsmesh/<cluster>/:
//
//	network        JSON object: the topology file's network settings, as given
//	hosts/<name>   JSON Record: name, underlay address, index, machine-id
//	index/<n>      the name of the host that owns index n (claimed with the record)
//	alive/<name>   JSON Alive, attached to the host's lease
package fleet
