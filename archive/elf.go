package archive

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ELFInfo reports the DT_SONAME and DT_NEEDED entries of the ELF object
// at path. ok is false when path is not a regular file or is not a
// parseable ELF object; a static or non-library ELF file yields ok with
// empty results. Symlinks are not followed.
func ELFInfo(path string) (soname string, needed []string, ok bool) {
	// debug/elf has panicked on malformed input before; a corrupt binary
	// must only mean "not ELF" to us.
	defer func() {
		if recover() != nil {
			soname, needed, ok = "", nil, false
		}
	}()
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return "", nil, false
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", nil, false
	}
	sonames, err := ef.DynString(elf.DT_SONAME)
	if err != nil {
		return "", nil, false
	}
	needed, err = ef.DynString(elf.DT_NEEDED)
	if err != nil {
		return "", nil, false
	}
	if len(sonames) > 0 {
		soname = sonames[0]
	}
	if len(needed) == 0 {
		needed = nil
	}
	return soname, needed, true
}

// FileSHA256 returns the lowercase hex sha256 of the file at path. Callers
// use it both for single files and for whole .lpm archives (repository
// indexes pin archives by this digest).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
