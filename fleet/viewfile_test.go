package fleet

import (
	"bytes"
	"testing"
)

func TestViewFileRoundTrip(t *testing.T) {
	text := []byte("# written by ovsmesh fleet\nnetwork: {}\n")
	b := ViewFile("prod", 42, text)
	cluster, rev, got, ok := ParseViewFile(b)
	if !ok || cluster != "prod" || rev != 42 || !bytes.Equal(got, text) {
		t.Errorf("ParseViewFile(%q) = %q, %d, %q, %v; want prod, 42, the text, true", b, cluster, rev, got, ok)
	}
	if _, _, got, ok := ParseViewFile(text); ok || !bytes.Equal(got, text) {
		t.Errorf("a file without the header: ok %v, text %q; want false and the whole file", ok, got)
	}
}
