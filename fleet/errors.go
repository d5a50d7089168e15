package fleet

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Unreachable says whether err means that etcd did not answer (as opposed to a
// refusal that retrying cannot fix).
func Unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s, ok := status.FromError(e); ok && (s.Code() == codes.Unavailable || s.Code() == codes.DeadlineExceeded) {
			return true
		}
	}
	return false
}

// SettingError is a refused setting of Config, or a certificate file CertUser
// cannot read. Settings are the Config fields involved ("Endpoints", "Cluster",
// "CA", "Cert", "Key"), Values their values where the message shows them (""
// where not), Op what was being done with them ("read", "load"; "" for a
// check). Its message names the settings as Config does; a command line names
// its own options for them with Format.
type SettingError struct {
	Op       string
	Settings []string
	Values   []string
	Err      error
}

// Errors a SettingError may carry that a command line may want to explain in
// its own words.
var (
	// ErrPlainHTTP: an http:// endpoint without Insecure.
	ErrPlainHTTP = errors.New("plain http sends the fleet's data unencrypted and unauthenticated")
	// ErrGoTogether: a client certificate without its key, or a key without
	// its certificate.
	ErrGoTogether = errors.New("go together")
)

func (e *SettingError) Error() string { return e.Format(func(s string) string { return s }) }

func (e *SettingError) Unwrap() error { return e.Err }

// Format writes the error with name(setting) for each setting: "op name value
// and name value: err", or "name and name go together".
func (e *SettingError) Format(name func(setting string) string) string {
	parts := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		parts[i] = name(s)
		if i < len(e.Values) && e.Values[i] != "" {
			parts[i] += " " + e.Values[i]
		}
	}
	what := strings.Join(parts, " and ")
	if e.Op != "" {
		what = e.Op + " " + what
	}
	if errors.Is(e.Err, ErrGoTogether) {
		return what + " " + e.Err.Error()
	}
	return what + ": " + e.Err.Error()
}

// refused is a SettingError of one setting.
func refused(setting, value string, err error) *SettingError {
	return &SettingError{Settings: []string{setting}, Values: []string{value}, Err: err}
}
