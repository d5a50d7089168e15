package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register adds collectors of another part of ovsmesh (e.g. fleet mode's) to the
// registry served on /metrics. Their names must start with ovsmesh_.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
