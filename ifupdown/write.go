package ifupdown

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteIfChanged makes the file at path hold exactly data and reports whether it
// had to write. When the file already holds data it is only read: its inode,
// mtime and mode stay as they are.
//
// Otherwise data goes to a temporary file in the same directory, which is synced,
// given the existing file's mode and owner (perm and the caller's for a new file),
// renamed over path, and the directory is synced: a crash leaves either the old or
// the new content, never a mix. The temporary file's name starts with a dot, so a
// stray one is not read by ifupdown's "source interfaces.d/*" glob. A symbolic
// link at path is followed: the file it points to is replaced, the link stays.
//
// A missing parent directory is created with mode 0755, as an operator expects for
// /etc/docker on a host where Docker is installed after ovsmesh.
func WriteIfChanged(path string, data []byte, perm os.FileMode) (changed bool, err error) {
	target, err := resolve(path)
	if err != nil {
		return false, err
	}
	old, err := os.ReadFile(target)
	switch {
	case err == nil && bytes.Equal(old, data):
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create directory of %s: %w", path, err)
	}
	mode, uid, gid := perm, -1, -1
	if fi, err := os.Stat(target); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	if err := replace(target, data, mode, uid, gid); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// resolve follows a symbolic link at path; a path that does not exist resolves to
// itself, a dangling link is an error.
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if err == nil {
		return target, nil
	}
	if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("resolve symbolic link %s: %w", path, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	return "", fmt.Errorf("resolve %s: %w", path, err)
}

// replace atomically replaces target with data through a synced temporary file.
// uid and gid -1 keep the creator's.
func replace(target string, data []byte, mode os.FileMode, uid, gid int) (err error) {
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".ovsmesh-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if uid >= 0 && (uid != os.Geteuid() || gid != os.Getegid()) {
		if err := tmp.Chown(uid, gid); err != nil {
			return err
		}
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
