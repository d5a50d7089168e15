package topofile

import (
	"io/fs"
	"syscall"
)

// inode returns the file's inode, so that a file replaced by rename is noticed
// even when its size and mtime are the same.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
