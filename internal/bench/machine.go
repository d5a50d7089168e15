package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the benchmark ran.
type machine struct {
	cpus      int
	model     string
	memGiB    float64
	kernel    string
	ovs       string
	goVersion string
	loadStart string
	loadEnd   string
}

func describeMachine(ctx context.Context) (machine, error) {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version(), model: "unknown CPU"}
	if v, err := procField("/proc/cpuinfo", "model name"); err == nil && v != "" {
		m.model = v
	}
	if v, err := procField("/proc/meminfo", "MemTotal"); err == nil {
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
		m.memGiB = kb / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	out, err := exec.CommandContext(ctx, "ovs-vswitchd", "--version").Output()
	if err != nil {
		return m, fmt.Errorf("ovs-vswitchd --version: %w", err)
	}
	m.ovs, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	m.ovs = strings.NewReplacer("ovs-vswitchd ", "", "(", "", ")", "").Replace(m.ovs)
	m.loadStart, err = loadAvg()
	return m, err
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s: no %q", path, key)
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() (string, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "", fmt.Errorf("/proc/loadavg: %q", b)
	}
	return strings.Join(f[:3], " "), nil
}
