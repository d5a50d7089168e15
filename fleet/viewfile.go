package fleet

import (
	"bytes"
	"fmt"
)

// viewHeaderFormat is the first line of a saved view file: the fleet and the
// etcd revision at which the view in the file was last changed.
const viewHeaderFormat = "# fleet %s view at etcd revision %d\n"

// ViewFile is the content of a saved view file: a header line naming the
// cluster and revision, then the view's topology text.
func ViewFile(cluster string, revision int64, text []byte) []byte {
	return append([]byte(fmt.Sprintf(viewHeaderFormat, cluster, revision)), text...)
}

// ParseViewFile splits a saved view file into its cluster, revision and topology
// text. A file without the header (saved by an older ovsmesh) gives ok false and
// the whole file as text.
func ParseViewFile(b []byte) (cluster string, revision int64, text []byte, ok bool) {
	line, rest, found := bytes.Cut(b, []byte("\n"))
	if !found {
		return "", 0, b, false
	}
	if n, err := fmt.Sscanf(string(line)+"\n", viewHeaderFormat, &cluster, &revision); err != nil || n != 2 {
		return "", 0, b, false
	}
	return cluster, revision, rest, true
}
