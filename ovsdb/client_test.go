package ovsdb

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultEndpoint(t *testing.T) {
	t.Setenv("OVS_RUNDIR", "")
	if got := DefaultEndpoint(); got != "unix:/var/run/openvswitch/db.sock" {
		t.Errorf("DefaultEndpoint() = %q without OVS_RUNDIR", got)
	}
	t.Setenv("OVS_RUNDIR", "/tmp/lab/h1/")
	if got := DefaultEndpoint(); got != "unix:/tmp/lab/h1/db.sock" {
		t.Errorf("DefaultEndpoint() = %q with OVS_RUNDIR=/tmp/lab/h1/", got)
	}
}

func TestConnectErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "db.sock")
	cases := []struct{ endpoint, want string }{
		{"/var/run/openvswitch/db.sock", `ovsdb endpoint "/var/run/openvswitch/db.sock": want unix:PATH or tcp:HOST:PORT`},
		{"tcp:127.0.0.1", `ovsdb endpoint "tcp:127.0.0.1": want unix:PATH or tcp:HOST:PORT`},
		{"ssl:127.0.0.1:6640", `ovsdb endpoint "ssl:127.0.0.1:6640": want unix:PATH or tcp:HOST:PORT`},
		{"unix:" + missing, "connect to ovsdb-server at unix:" + missing + ": "},
	}
	for _, tc := range cases {
		c, err := Connect(t.Context(), tc.endpoint, testLogger(t))
		if err == nil {
			c.Close()
			t.Errorf("Connect(%q) succeeded", tc.endpoint)
			continue
		}
		if got := fmt.Sprint(err); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Connect(%q): %s\nwant prefix: %s", tc.endpoint, got, tc.want)
		}
		// An unreachable server says so (the reconcile pass then skips the flow
		// table); a malformed endpoint does not.
		var u interface{ Unavailable() bool }
		if got, want := errors.As(err, &u) && u.Unavailable(), strings.HasPrefix(tc.want, "connect to"); got != want {
			t.Errorf("Connect(%q): Unavailable %v, want %v", tc.endpoint, got, want)
		}
	}
}
