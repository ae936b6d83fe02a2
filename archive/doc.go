// Package archive owns lpm's binary package format: it turns a staging
// directory (a DESTDIR after "make install") into one .lpm file, and reads
// such files back as a validated manifest plus a stream of verified entries.
//
// It never writes onto a target root: installing is the installer's job,
// which consumes Reader.Walk. It never follows a symlink inside a staging
// directory, and it never trusts an archive: every manifest and every tar
// header is validated as if an attacker wrote it, and file contents are
// checked against the manifest's sha256 while they stream.
//
// # Format, version 1
//
// This section is the specification other tools follow.
//
// A package archive is a single file, conventionally named
// NAME-VERSION-RELEASE.lpm. It is a tar stream (POSIX ustar headers, with
// PAX extended headers only where a field does not fit ustar) compressed
// as zstd frames, and for a big package a seek table (below). Readers must
// accept zstd windows up to 128 MiB; lpm writes 4 MiB windows (older
// archives have 8 MiB) with content checksums.
//
// The first tar entry is a regular file named ".MANIFEST", at most 64 MiB,
// holding one JSON object (UTF-8, two-space indentation, HTML characters
// not escaped, trailing newline). A reader needs only this entry to learn
// everything about the package; lpm stops decompressing after it. Fields:
//
//	format       int       always 1; readers reject other values
//	name         string    [A-Za-z0-9][A-Za-z0-9+._-]*
//	version      string    upstream version as written, e.g. "2025a"; no
//	                       whitespace, control characters or "/"
//	release      int       >= 0
//	description, license, homepage   string, optional
//	depends, provides, conflicts     []string, optional; run-time
//	                       relations as the port wrote them, e.g.
//	                       "zlib >=1.3" or "awk | gawk"
//	backup       []string  config files to preserve on upgrade; each names
//	                       a "file" or "hardlink" entry
//	build_date   string    RFC 3339 UTC; the zero time is allowed so that
//	                       builds can be reproducible
//	entries      []entry   every path the package installs
//
// Each entry is an object:
//
//	path    string    relative to the install root: no leading "/", no
//	                  "." or ".." components, no empty components, no
//	                  trailing "/", no NUL; path.Clean(path) == path;
//	                  ".MANIFEST" is reserved; nothing may lie in lpm's
//	                  state directories (var/lib/lpm, var/cache/lpm,
//	                  var/log/lpm, var/tmp/lpm), and their ancestors
//	                  (var, var/lib, ...) may only be "dir" entries
//	type    string    "dir", "file", "symlink" or "hardlink"
//	mode    int       unix permission bits including setuid (04000),
//	                  setgid (02000) and sticky (01000); nothing above 07777
//	uid, gid int      numeric owner, >= 0
//	size    int       files only: content length in bytes
//	sha256  string    files only: 64 lowercase hex digits of the content
//	link    string    symlink: the target exactly as stored (may be
//	                  absolute or contain ".."; it is never followed);
//	                  hardlink: the path of an earlier "file" entry
//	soname  string    ELF shared objects: DT_SONAME, optional
//	needed  []string  ELF objects: DT_NEEDED in file order, optional
//
// Entries are sorted by path comparing byte by byte with "/" ordered
// before every other byte, which is the order of a depth-first walk with
// each directory's names sorted bytewise. Paths are unique. The parent
// directory of every entry (every proper prefix of its path) is itself a
// "dir" entry appearing earlier; in particular no entry lives under a
// symlink, so extracting in order never writes through a link. A hardlink
// shares its target's inode, so its mode, uid and gid equal the target's,
// and it has no size or sha256. Only files carry size, sha256, soname and
// needed; only symlinks and hardlinks carry link.
//
// After .MANIFEST come exactly one tar entry per manifest entry, in
// manifest order and nothing else. Each tar header agrees with its entry:
// name is the path ("path/" for a dir); typeflag is '5' (dir), '0' (file),
// '2' (symlink) or '1' (hardlink); linkname is the entry's link; mode, uid,
// gid and size are equal. Headers carry no owner names and a modification
// time of 0 (the Unix epoch), so that the same staging tree and the same
// manifest fields always produce a byte-identical archive. The tar stream
// ends with the usual two zero blocks; anything after them other than zero
// bytes makes the archive invalid.
//
// # Seek table
//
// The compressed stream may be several zstd frames, concatenated. lpm
// ends a frame at the first tar member boundary after 32 MiB of tar
// stream, so only big packages have more than one. An archive of more
// than one frame ends with a seek table, so that a reader can decompress
// only the frames holding the entries it wants; a reader may also ignore
// it and read the frames as one stream. The table is a zstd skippable
// frame (RFC 8878, section 3.1.2), which every zstd decoder skips, right
// after the last zstd frame; all integers are little-endian:
//
//	magic     uint32    0x184D2A5C
//	size      uint32    bytes of the frame after this field: 24*n + 12
//	n records, one per zstd frame, in file order:
//	  size    uint64    compressed bytes of the frame; the first frame
//	                    starts at byte 0 of the file, each next one where
//	                    the one before ends, and the last one ends where
//	                    the table starts
//	  content uint64    bytes of tar stream the frame decompresses to, > 0
//	  first   uint64    the tar member the frame starts with: 0 is
//	                    .MANIFEST, i+1 is the manifest's entries[i]
//	n         uint32    number of records, > 0
//	footer    8 bytes   "lpm-seek"
//
// Each frame starts at the first byte of a tar member's header (a PAX
// header, when the member has one) and holds whole members only: members
// first up to, not including, the next frame's first, with the padding of
// the last; the last frame holds the last entry and the tar end marker.
// So the first record's first is 0, firsts strictly increase, and none
// exceeds the number of entries. A reader finds the table from the last
// 12 bytes of the file; an archive whose last 8 bytes are not the footer
// has no table. A table that breaks a rule above, or a frame that does
// not hold what its record says, makes the archive invalid.
//
// A reader rejects an archive that breaks any rule above. lpm's messages
// name the archive file and the offending path.
package archive
