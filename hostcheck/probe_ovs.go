package hostcheck

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ovsmesh/ovsmesh/ovsdb"
)

// OVSDBTimeout bounds the whole read of the database: connect, monitor reply,
// close. A live local ovsdb-server answers in milliseconds.
const OVSDBTimeout = 5 * time.Second

// ReadOVSDB reads every bridge, port and interface of the database at endpoint
// (ovsmesh's and others') and the Open_vSwitch row, once, within OVSDBTimeout.
// It writes nothing. A server that does not answer is reported in Err, not as
// an error: it is a finding.
func ReadOVSDB(ctx context.Context, endpoint string) OVSDBFacts {
	f := OVSDBFacts{Endpoint: endpoint}
	ctx, cancel := context.WithTimeout(ctx, OVSDBTimeout)
	defer cancel()
	inv, err := ovsdb.ReadInventory(ctx, endpoint)
	if err != nil {
		f.Err = fmt.Sprintf("does not answer (waited at most %s): %v", OVSDBTimeout, err)
		return f
	}
	f.OVSVersion, f.DBVersion, f.Bridges = inv.OVSVersion, inv.SchemaVersion, inv.Bridges
	return f
}

// appctlVersion runs `ovs-appctl -t target version` with a timeout and returns
// its first line.
func appctlVersion(ctx context.Context, target string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, OVSDBTimeout)
	defer cancel()
	argv := []string{"ovs-appctl", "--timeout=5", "-t", target, "version"}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil {
		// OVS log lines: "2026-12-03T17:28:20Z|00001|daemon_unix|WARN|message".
		if i := strings.LastIndex(line, "|"); i >= 0 {
			line = line[i+1:]
		}
		if line == "" {
			line = err.Error()
		}
		return "", fmt.Errorf("ovs-appctl -t %s version: %s", target, line)
	}
	return line, nil
}

// moduleState says whether the openvswitch kernel module is loaded, loadable
// (modinfo finds it) or absent.
func moduleState(ctx context.Context) ModuleState {
	if _, err := os.Stat("/sys/module/openvswitch"); err == nil {
		return ModuleLoaded
	}
	if exec.CommandContext(ctx, "modinfo", "openvswitch").Run() == nil {
		return ModuleLoadable
	}
	return ModuleAbsent
}

// ProbeOVS asks both daemons for their version, finds the openvswitch module
// and the interface holding addr (through h), given the database read db.
func ProbeOVS(ctx context.Context, h *netlink.Handle, db OVSDBFacts, addr netip.Addr, datapath string) (OVSFacts, error) {
	f := OVSFacts{DB: db}
	if db.Err == "" {
		f.ServerVersion, _ = appctlVersion(ctx, "ovsdb-server") // only a detail
	}
	var err error
	if f.VSwitchd, err = appctlVersion(ctx, "ovs-vswitchd"); err != nil {
		f.VSwitchdErr = err.Error()
	}
	if datapath != "netdev" {
		f.Module = moduleState(ctx)
		return f, nil
	}
	dev, err := addressHolder(h, addr)
	if err != nil {
		return f, err
	}
	f.UnderlayDev = dev
	return f, nil
}

// addressHolder returns the name of the interface that holds addr, or "".
func addressHolder(h *netlink.Handle, addr netip.Addr) (string, error) {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return "", fmt.Errorf("list this host's addresses: %w", err)
	}
	for _, a := range addrs {
		if ipAddr(a.IP) != addr {
			continue
		}
		l, err := h.LinkByIndex(a.LinkIndex)
		if err != nil {
			return "", fmt.Errorf("find the interface of %s: %w", addr, err)
		}
		return l.Attrs().Name, nil
	}
	return "", nil
}
