package ifupdown

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// MergeFile reads the file at path (a missing file is empty), merges it with
// merge (e.g. MergeInterfaces or MergeDaemonJSON) and writes the result with
// WriteIfChanged, reporting whether it wrote. A merge error leaves the file as it
// is and is returned prefixed with the path.
func MergeFile(path string, merge func(old []byte) ([]byte, error)) (changed bool, err error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	data, err := merge(old)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return WriteIfChanged(path, data, filePerm)
}
