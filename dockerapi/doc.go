// Package dockerapi reads, over Docker's Engine API, what Docker itself reports
// of its bridge network: gateway, subnet, IP range, MTU, bridge name and
// enable_icc (network.go converts the API's answer into a topology.DockerNetwork,
// purely; client.go does the I/O), and the containers on a bridge's networks
// with their endpoints' MACs and addresses (containers.go). It only reads: it
// never creates, changes or deletes anything of Docker's. It is the only package that imports
// github.com/moby/moby (client and api; a test enforces this), and it imports
// only topology of ovsmesh's packages.
package dockerapi
