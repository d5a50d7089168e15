package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsmesh/ovsmesh/topology"
)

// containerFake is an Engine API that answers as Docker 20.10.24 did with
// two containers on its default network (testdata/bridge-containers.json,
// container-c1.json; c2's inspect is c1's with c2's ID, name and pid), and
// an empty user-defined network on another bridge.
type containerFake struct {
	host     string
	paths    []string
	running  map[string]int    // container ID → pid; absent: no such container
	networks map[string]string // network ID → inspect body
}

const (
	idC1 = "52a7f1382a86770689f380c881ea0efda7cfd902d7de845e5689582382ef63f2"
	idC2 = "43807d20e8148fa63729526c126200e13d8d03a6b2c553f30b04156c8bf54411"
)

func newContainerFake(t *testing.T) *containerFake {
	t.Helper()
	def := string(readFixture("bridge-containers.json"))
	other := strings.NewReplacer(`"Name":"bridge"`, `"Name":"app"`, `"docker0"`, `"br-app"`, `"Id":"92f5`, `"Id":"0ff5`).Replace(def)
	other = other[:strings.Index(other, `"Containers":{`)] + `"Containers":{},` + other[strings.LastIndex(other, `"Options":`):]
	f := &containerFake{running: map[string]int{idC1: 14343, idC2: 14400},
		networks: map[string]string{idOf(def): def, idOf(other): other}}
	f.host = serveFake(t, f.serve)
	return f
}

func idOf(body string) string {
	var n struct{ Id string }
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		panic(err)
	}
	return n.Id
}

func (f *containerFake) serve(w http.ResponseWriter, r *http.Request) {
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	w.Header().Set("Api-Version", "1.41")
	if r.URL.Path == "/_ping" {
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1.41")
	if !ok {
		notFound(w, "client version "+r.URL.Path+" is too new")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == "/networks":
		writeNetworks(w, f.networks)
	case strings.HasPrefix(path, "/networks/"):
		body, ok := f.networks[strings.TrimPrefix(path, "/networks/")]
		if !ok {
			notFound(w, "network not found")
			return
		}
		w.Write([]byte(body))
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/json"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/json")
		pid, ok := f.running[id]
		if !ok {
			notFound(w, "No such container: "+id)
			return
		}
		body := strings.NewReplacer(`"Pid":14343`, fmt.Sprintf(`"Pid":%d`, pid)).Replace(string(readFixture("container-c1.json")))
		if id == idC2 {
			body = strings.NewReplacer(idC1, idC2, `"Name":"/c1"`, `"Name":"/c2"`).Replace(body)
		}
		w.Write([]byte(body))
	default:
		notFound(w, "page not found")
	}
}

// TestContainersReadsDocker2010: the two containers a real Docker 20.10.24
// had on docker0, with their endpoints' MACs and addresses and their pids;
// the network on another bridge is not inspected.
func TestContainersReadsDocker2010(t *testing.T) {
	f := newContainerFake(t)
	got, err := newClient(t, f.host).Containers(context.Background(), "docker0")
	if err != nil {
		t.Fatal(err)
	}
	want := []topology.Container{
		{ID: idC1, Name: "c1", Network: "bridge", Bridge: "docker0", MAC: "02:42:ac:11:10:00", IPv4: netip.MustParseAddr("172.17.16.0"), Pid: 14343},
		{ID: idC2, Name: "c2", Network: "bridge", Bridge: "docker0", MAC: "02:42:ac:11:10:01", IPv4: netip.MustParseAddr("172.17.16.1"), Pid: 14400},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	reqs := strings.Join(f.paths, ", ")
	if !strings.Contains(reqs, "GET /v1.41/networks/92f5") || strings.Contains(reqs, "/networks/0ff5") {
		t.Errorf("requests: %s", reqs)
	}
}

// TestContainersGoneOrStopped: a container that is gone by its inspect is
// left out; one whose process is not running has pid 0; a bridge no network
// uses has no containers.
func TestContainersGoneOrStopped(t *testing.T) {
	f := newContainerFake(t)
	delete(f.running, idC2)
	f.running[idC1] = 0
	got, err := newClient(t, f.host).Containers(context.Background(), "docker0")
	if err != nil || len(got) != 1 || got[0].Name != "c1" || got[0].Pid != 0 {
		t.Errorf("%+v, %v", got, err)
	}
	got, err = newClient(t, f.host).Containers(context.Background(), "br-none")
	if err != nil || len(got) != 0 {
		t.Errorf("br-none: %+v, %v", got, err)
	}
	got, err = newClient(t, f.host).Containers(context.Background(), "br-app")
	if err != nil || len(got) != 0 {
		t.Errorf("br-app: %+v, %v", got, err)
	}
}

// TestContainersUnreachable: no Docker is an *UnreachableError.
func TestContainersUnreachable(t *testing.T) {
	dir := t.TempDir()
	missing := "unix://" + filepath.Join(dir, "missing.sock")
	_, err := newClient(t, missing).Containers(context.Background(), "docker0")
	assertUnreachable(t, err, "Docker not reachable at "+missing)
}
