package fleet

import "encoding/json"

// NetworksKey is the key of the network settings that holds the topology's
// networks list (the Docker networks beside docker0): stored with the settings
// (fleet set-network), rendered as the file's top-level networks key.
const NetworksKey = "networks"

// splitNetworks returns the network settings without NetworksKey, and the
// networks list (nil when there is none).
func splitNetworks(network map[string]any) (map[string]any, any) {
	list, ok := network[NetworksKey]
	if !ok {
		return network, nil
	}
	rest := make(map[string]any, len(network))
	for k, v := range network {
		if k != NetworksKey {
			rest[k] = v
		}
	}
	return rest, list
}

// jsonNumbers turns the json.Numbers of a decoded value into int64 (or float64),
// at any depth, so that they render as YAML numbers.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	}
	return v
}
