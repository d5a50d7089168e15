package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProbeARP reads net.ipv4.conf.{all,NIC}.arp_ignore from /proc/sys (this
// process's network namespace) for the NICs that UnderlayNICs finds; nothing
// when it finds none. It changes nothing.
func ProbeARP(p OVSPlan, f OVSFacts) ARPFacts {
	a := ARPFacts{ArpIgnore: map[string]int{}}
	_, nics, ok := UnderlayNICs(p, f)
	if !ok || len(nics) == 0 {
		return a
	}
	for _, name := range append([]string{"all"}, nics...) {
		path := filepath.Join("/proc/sys/net/ipv4/conf", name, "arp_ignore")
		b, err := os.ReadFile(path)
		if err == nil {
			var v int
			if v, err = strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				a.ArpIgnore[name] = v
				continue
			}
		}
		a.Errs = append(a.Errs, fmt.Sprintf("cannot read %s: %v", path, err))
	}
	return a
}
