// Package dockerapi talks to Docker over its Engine API. It reads what Docker
// itself reports of its bridge network: gateway, subnet, IP range, MTU, bridge
// name and enable_icc (network.go converts the API's answer into a
// topology.DockerNetwork, purely; client.go does the I/O), and the containers on
// a bridge's networks with their endpoints' MACs and addresses (containers.go).
// It creates, recreates and deletes only the Docker networks of the topology's
// networks list, which carry ovsmesh's label (networks.go), never another
// network. It is the only package that imports github.com/moby/moby (client and
// api; a test enforces this), and it imports only topology of ovsmesh's packages.
package dockerapi
