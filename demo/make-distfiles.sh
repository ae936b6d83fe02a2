#!/bin/sh
# Packs demo/src into the tarballs under demo/distfiles, reproducibly (sorted
# names, fixed times and owners), one compression each so every extractor is
# exercised. Run it after changing demo/src, then update the sha256 in
# demo/ports (sha256sum demo/distfiles/*).
set -eu
cd "$(dirname "$0")"
mkdir -p distfiles
pack() { # dir compressor suffix
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C src -cf - "$1" | $2 > "distfiles/$1.$3"
}
pack libgreet-1.0.0 "gzip -n -9" tar.gz
pack libgreet-1.1.0 "xz -9" tar.xz
pack mkbanner-0.3.0 "zstd -q -19" tar.zst
pack hello-1.0.0 "bzip2 -9" tar.bz2
