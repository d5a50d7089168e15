package dockerapi

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeDocker is an Engine API on a unix socket that answers as Docker
// 20.10.24 does (API 1.41): /_ping with its headers, /version and
// /networks[/NAME] from testdata (bodies captured from a real dockerd).
type fakeDocker struct {
	host     string
	networks map[string]string // name → body; "" lists none
	mu       sync.Mutex
	paths    []string // the requests' paths, in order
}

func newFakeDocker(t *testing.T, networks map[string]string) *fakeDocker {
	t.Helper()
	f := &fakeDocker{networks: networks}
	f.host = serveFake(t, f.serve)
	return f
}

// serveFake serves handler as an Engine API on a unix socket until the test
// ends, and returns the socket's address as a Docker host ("unix://...").
func serveFake(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dockerapi-") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func (f *fakeDocker) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	h := w.Header()
	h.Set("Api-Version", "1.41")
	h.Set("Server", "Docker/20.10.24+dfsg1 (linux)")
	h.Set("Ostype", "linux")
	h.Set("Docker-Experimental", "false")
	if r.URL.Path == "/_ping" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method == http.MethodGet {
			w.Write([]byte("OK"))
		}
		return
	}
	// Docker 20.10 serves API versions 1.12 to 1.41: a client that did not
	// negotiate would ask for 1.57.
	path, ok := strings.CutPrefix(r.URL.Path, "/v1.41")
	if !ok {
		notFound(w, "client version "+r.URL.Path+" is too new. Maximum supported API version is 1.41")
		return
	}
	h.Set("Content-Type", "application/json")
	switch {
	case path == "/version":
		w.Write(readFixture("version.json"))
	case path == "/networks":
		writeNetworks(w, f.networks)
	case strings.HasPrefix(path, "/networks/"):
		name := strings.TrimPrefix(path, "/networks/")
		body, ok := f.networks[name]
		if !ok {
			notFound(w, "network "+name+" not found")
			return
		}
		w.Write([]byte(body))
	default:
		notFound(w, "page not found")
	}
}

// writeNetworks answers a network list: the inspect bodies, as a JSON array.
func writeNetworks(w http.ResponseWriter, networks map[string]string) {
	var list []json.RawMessage
	for _, body := range networks {
		list = append(list, json.RawMessage(body))
	}
	json.NewEncoder(w).Encode(list)
}

func notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (f *fakeDocker) requests() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.paths, ", ")
}

func readFixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return b
}
