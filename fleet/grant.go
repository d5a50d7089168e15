package fleet

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// DefaultOperator is the etcd user of the operator's identity when none is named.
const DefaultOperator = "ovsmesh-operator"

// Grant returns the etcdctl commands, one per line, that create host's etcd
// user and role in cluster: read access to the network settings and to every
// host's keys, write access to host's own keys (hosts/<host>/) and nothing
// else. Run as etcd's root user, with client-cert-auth the user is the common
// name of the host's client certificate. Two hosts' roles never overlap in
// what they may write, so a host's identity cannot change another host's
// record, index or address claims, liveness, or the network settings.
func Grant(cluster, host string, endpoints []string) ([]string, error) {
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	if err := checkUser(host); err != nil {
		return nil, err
	}
	k := Keys{Cluster: cluster}
	role := "ovsmesh:" + cluster + ":host:" + host
	return etcdctl(endpoints,
		"role add "+role,
		"role grant-permission "+role+" read "+k.Network(),
		"role grant-permission "+role+" --prefix=true read "+k.Hosts(),
		"role grant-permission "+role+" --prefix=true readwrite "+k.HostPrefix(host),
		"user add "+host+" --no-password",
		"user grant-role "+host+" "+role,
	), nil
}

// GrantOperator returns the etcdctl commands that create the operator's etcd
// user and role in cluster: read and write access to the whole fleet (fleet
// init, set-network, remove, migrate), and nothing outside it.
func GrantOperator(cluster, user string, endpoints []string) ([]string, error) {
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	if err := checkUser(user); err != nil {
		return nil, err
	}
	k := Keys{Cluster: cluster}
	role := "ovsmesh:" + cluster + ":operator"
	return etcdctl(endpoints,
		"role add "+role,
		"role grant-permission "+role+" --prefix=true readwrite "+k.Prefix(),
		"user add "+user+" --no-password",
		"user grant-role "+user+" "+role,
	), nil
}

func etcdctl(endpoints []string, cmds ...string) []string {
	head := "etcdctl "
	if len(endpoints) > 0 {
		head += "--endpoints=" + strings.Join(endpoints, ",") + " "
	}
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = head + c
	}
	return out
}

// checkUser checks a host or user name: it becomes an etcd user and part of a
// key, so it takes the characters of a host name only (no '/', no space).
func checkUser(name string) error {
	if name == "" || len(name) > 63 || name == "." || name == ".." {
		return fmt.Errorf("%q: not a host name (letters, digits, '-', '_', '.'; at most 63 bytes)", name)
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("%q: not a host name (letters, digits, '-', '_', '.'; at most 63 bytes)", name)
		}
	}
	return nil
}

// CertUser returns the common name of the client certificate in a PEM file
// (Config.Cert): the etcd user it authenticates as under etcd's
// client-cert-auth. Its errors are SettingErrors of Cert.
func CertUser(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", &SettingError{Op: "read", Settings: []string{"Cert"}, Err: err}
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", refused("Cert", path, errors.New("no PEM certificate in it"))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", refused("Cert", path, err)
	}
	return cert.Subject.CommonName, nil
}
