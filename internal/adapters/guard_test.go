package adapters

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ovsmesh/ovsmesh/controller"
)

// downErr is the error of a check whose server cannot be reached.
type downErr struct{}

func (downErr) Error() string     { return "not connected" }
func (downErr) Unavailable() bool { return true }

// TestGuardVerdict: a check that could not tell (its error says Unavailable, also
// when wrapped) makes the verdict unavailable, any other error is a refusal, and
// the verdict's error names them all, the unavailability first, in one message.
func TestGuardVerdict(t *testing.T) {
	var v controller.Verdict
	add(&v, nil)
	if v.Unavailable != nil || v.Refusals != nil || v.Err() != nil {
		t.Fatalf("no error: verdict %+v, err %v", v, v.Err())
	}
	add(&v, fmt.Errorf("check bridge %q: %w", "br0", downErr{}))
	add(&v, errors.New(`bridge "docker0" was not built by ovsmesh`))
	add(&v, errors.New(`interface "br0" carries IP addresses`))
	if v.Unavailable == nil || len(v.Refusals) != 2 {
		t.Fatalf("verdict %+v: want one unavailability and two refusals", v)
	}
	want := "check bridge \"br0\": not connected\nbridge \"docker0\" was not built by ovsmesh\ninterface \"br0\" carries IP addresses"
	if got := v.Err().Error(); got != want {
		t.Errorf("err %q, want %q", got, want)
	}
}
