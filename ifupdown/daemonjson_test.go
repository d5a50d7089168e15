package ifupdown

import (
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

var daemon = topology.DaemonConfig{Bridge: "ovsm0", FixedCIDR: "172.17.64.0/18", MTU: 1462}

func TestMergeDaemonJSON(t *testing.T) {
	const ours = `  "bridge": "ovsm0",
  "fixed-cidr": "172.17.64.0/18",
  "mtu": 1462
`
	for _, tc := range []struct{ name, existing, want string }{
		{"missing file", "", "{\n" + ours + "}\n"},
		{"blank file", " \n\t\n", "{\n" + ours + "}\n"},
		{"empty object", "{}", "{\n" + ours + "}\n"},
		{
			"other keys kept in order, ours replaced in place, bip dropped (a bridge other than docker0)",
			`{"log-driver":"journald","bip":"172.17.0.1/16","mtu":1500,
			  "log-opts":{"tag":"{{.Name}}","labels":["a","b"]},"bridge":"ovsm0","insecure-registries":[],
			  "default-address-pools":[{"base":"10.10.0.0/16","size":24}],"debug":true,"x":null,"n":1.5e3}`,
			`{
  "log-driver": "journald",
  "mtu": 1462,
  "log-opts": {
    "tag": "{{.Name}}",
    "labels": [
      "a",
      "b"
    ]
  },
  "bridge": "ovsm0",
  "insecure-registries": [],
  "default-address-pools": [
    {
      "base": "10.10.0.0/16",
      "size": 24
    }
  ],
  "debug": true,
  "x": null,
  "n": 1.5e3,
  "fixed-cidr": "172.17.64.0/18"
}
`,
		},
		{
			"duplicates of our keys collapse into the first",
			`{"mtu": 1462, "a": "<&>\u00e9", "mtu": 9000, "bridge": "ovsm0", "fixed-cidr": "172.17.64.0/18"}`,
			"{\n  \"mtu\": 1462,\n  \"a\": \"<&>\\u00e9\",\n  \"bridge\": \"ovsm0\",\n  \"fixed-cidr\": \"172.17.64.0/18\"\n}\n",
		},
		{
			"up to date in another layout: unchanged bytes",
			"{\"fixed-cidr\":\"172.17.64.0/18\",   \"mtu\":1462,\n\"debug\":true,\"bridge\":\"ovsm0\"}",
			"{\"fixed-cidr\":\"172.17.64.0/18\",   \"mtu\":1462,\n\"debug\":true,\"bridge\":\"ovsm0\"}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MergeDaemonJSON([]byte(tc.existing), daemon)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			again, err := MergeDaemonJSON(got, daemon)
			if err != nil || string(again) != string(got) {
				t.Errorf("second merge changed the bytes (err %v):\n%s", err, again)
			}
		})
	}
}

func TestMergeDaemonJSONRewritesStaleValues(t *testing.T) {
	for _, existing := range []string{
		`{"bridge": "ovsm0", "fixed-cidr": "172.17.64.0/18", "mtu": 1462, "bip": "172.17.0.1/16"}`,
		`{"bridge": "ovsm0", "fixed-cidr": "172.17.64.0/18", "mtu": 1462.0}`,
		`{"bridge": "ovsm0", "fixed-cidr": "172.17.64.0/18", "mtu": "1462"}`,
		`{"bridge": "br-x", "fixed-cidr": "172.17.64.0/18", "mtu": 1462}`,
		`{"bridge": "ovsm0", "fixed-cidr": "172.17.64.0/18"}`,
	} {
		got, err := MergeDaemonJSON([]byte(existing), daemon)
		if err != nil {
			t.Fatal(err)
		}
		want := "{\n  \"bridge\": \"ovsm0\",\n  \"fixed-cidr\": \"172.17.64.0/18\",\n  \"mtu\": 1462\n}\n"
		if string(got) != want {
			t.Errorf("%s: got\n%s", existing, got)
		}
	}
}

func TestMergeDaemonJSONErrors(t *testing.T) {
	for _, tc := range []struct{ existing, want string }{
		{"{\n  \"debug\": true,\n}\n", `3:1: invalid character '}' looking for beginning of object key string`},
		{"{\n  \"a\": 1\n  \"b\": 2\n}", `3:3: invalid character '"' after object key:value pair`},
		{"{\"é\": \"x\" \"y\"}", `1:11: invalid character '"' after object key:value pair`},
		{"{\n  \"debug\": true", `2:16: unexpected end of JSON input`},
		{"{} {}", `1:4: invalid character '{' after top-level value`},
		{"\n  [\"bridge\"]\n", `2:3: the top-level value is not a JSON object`},
		{"null", `1:1: the top-level value is not a JSON object`},
	} {
		got, err := MergeDaemonJSON([]byte(tc.existing), daemon)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %s", tc.existing, err, tc.want)
		}
		if got != nil {
			t.Errorf("%q: output beside the error: %q", tc.existing, got)
		}
	}
}

// TestMergeDaemonJSONBIP: for docker0 the plan sets "bip", and "bridge" goes.
func TestMergeDaemonJSONBIP(t *testing.T) {
	d := topology.DaemonConfig{BIP: "172.17.0.2/16", FixedCIDR: "172.17.128.0/18", MTU: 1462}
	for _, tc := range []struct{ name, existing, want string }{
		{"new file", "", "{\n  \"bip\": \"172.17.0.2/16\",\n  \"fixed-cidr\": \"172.17.128.0/18\",\n  \"mtu\": 1462\n}\n"},
		{
			"bridge replaced by bip, other keys kept",
			`{"bridge": "docker0", "debug": true, "fixed-cidr": "172.17.128.0/18", "mtu": 1462}`,
			"{\n  \"debug\": true,\n  \"fixed-cidr\": \"172.17.128.0/18\",\n  \"mtu\": 1462,\n  \"bip\": \"172.17.0.2/16\"\n}\n",
		},
		{
			"a stale bip rewritten in place",
			`{"bip": "172.17.0.1/16", "fixed-cidr": "172.17.128.0/18", "mtu": 1462}`,
			"{\n  \"bip\": \"172.17.0.2/16\",\n  \"fixed-cidr\": \"172.17.128.0/18\",\n  \"mtu\": 1462\n}\n",
		},
		{
			"up to date: unchanged bytes",
			`{"mtu":1462,"bip":"172.17.0.2/16","fixed-cidr":"172.17.128.0/18"}`,
			`{"mtu":1462,"bip":"172.17.0.2/16","fixed-cidr":"172.17.128.0/18"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MergeDaemonJSON([]byte(tc.existing), d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	// Both keys at once: dockerd refuses to start, so "bridge" must go.
	got, err := MergeDaemonJSON([]byte(`{"bip": "172.17.0.2/16", "bridge": "docker0", "fixed-cidr": "172.17.128.0/18", "mtu": 1462}`), d)
	if err != nil || string(got) != "{\n  \"bip\": \"172.17.0.2/16\",\n  \"fixed-cidr\": \"172.17.128.0/18\",\n  \"mtu\": 1462\n}\n" {
		t.Errorf("bip and bridge: got %s, %v", got, err)
	}
}
