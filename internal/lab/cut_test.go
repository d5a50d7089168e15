package lab

import (
	"testing"
)

// TestCut: a cut drops the underlay between two hosts only, both ways, and the
// restore brings it back.
func TestCut(t *testing.T) {
	short(t)
	ctx := testCtx(t)
	l := NewT(t, HostSpec{Name: "h1"}, HostSpec{Name: "h2"}, HostSpec{Name: "h3"})
	h1, h2, h3 := l.Host("h1"), l.Host("h2"), l.Host("h3")
	reach := func(from, to *Host) bool {
		_, err := from.Run(ctx, pingArgv(to.Underlay, 0, false)...)
		return err == nil
	}
	restore, err := l.Cut(ctx, h1.Underlay, h2.Underlay)
	if err != nil {
		t.Fatal(err)
	}
	if reach(h1, h2) || reach(h2, h1) {
		t.Errorf("h1 and h2 still reach each other through the cut")
	}
	if !reach(h1, h3) || !reach(h3, h2) {
		t.Errorf("the cut of h1-h2 broke another path")
	}
	if err := restore(ctx); err != nil {
		t.Fatal(err)
	}
	if !reach(h1, h2) || !reach(h2, h1) {
		t.Errorf("h1 and h2 do not reach each other after the restore")
	}
}
