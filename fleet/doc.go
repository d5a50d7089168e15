// Package fleet keeps a cluster's topology in etcd instead of a file: hosts register
// themselves and claim the smallest free index once and for all, hold a lease that
// says they are alive, and every host turns the same etcd view into the same
// topology.Topology. It is the only ovsmesh package that talks to etcd; the
// controller never sees it, it only receives the topology it builds.
//
// Keys, all under /ovsmesh/<cluster>/; every key a host writes is under its own
// prefix, so that etcd's per-user roles (Grant) limit each host to its own keys:
//
//	network                     JSON object: the topology file's network settings (the operator's)
//	hosts/<name>/record         JSON Record: name, underlay address, index, machine-id
//	hosts/<name>/index/<n>      name's claim of index n: the first created wins
//	hosts/<name>/address/<ip>   name's claim of an address: the first created wins
//	hosts/<name>/alive          JSON Alive, attached to the host's lease
package fleet
