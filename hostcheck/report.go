package hostcheck

import (
	"encoding/json"
	"fmt"
	"io"
)

// Status is the verdict on one item.
type Status string

// The verdicts, from best to worst.
const (
	OK      Status = "ok"
	Warning Status = "warning"
	Problem Status = "problem"
)

// Item is one checked thing: what was checked, on what, the verdict, what was
// found and, unless ok, how to fix it.
type Item struct {
	Check   string `json:"check"`   // "underlay", ...
	Subject string `json:"subject"` // e.g. the peer's name
	Status  Status `json:"status"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// Report is every item of one run, in the order they were checked.
type Report struct {
	Host  string `json:"host"`
	Items []Item `json:"items"`
}

// Count returns how many items have status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, it := range r.Items {
		if it.Status == s {
			n++
		}
	}
	return n
}

// WriteText writes one line per item, its fix indented below, then a summary.
func (r Report) WriteText(w io.Writer) error {
	for _, it := range r.Items {
		if _, err := fmt.Fprintf(w, "%-8s %s %s: %s\n", it.Status, it.Check, it.Subject, it.Detail); err != nil {
			return err
		}
		if it.Fix != "" {
			if _, err := fmt.Fprintf(w, "%-8s fix: %s\n", "", it.Fix); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%s: %d ok, %d warnings, %d problems\n", r.Host, r.Count(OK), r.Count(Warning), r.Count(Problem))
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
