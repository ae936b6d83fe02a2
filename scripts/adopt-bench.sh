#!/bin/sh
# Times lpm adopt --all and lpm unowned /usr on a root of a realistic size,
# with no network and no package manager of the host involved: every top
# directory of the host's /usr/share becomes a port whose install copies
# it; the root gets them by hand (cp -a, as make install would), lpm builds
# each port once for its shipped footprint (build --update-footprint), the
# package cache is emptied, and adopt --all works from the footprints alone.
# It only reads the host's /usr/share. Usage: sh scripts/adopt-bench.sh [WORKDIR]
set -eu
cd "$(dirname "$0")/.."
B=${1:-/tmp/lpm-adopt-bench}
go build -o "$B/lpm" ./cmd/lpm
LPM=$B/lpm
rm -rf "$B/root" "$B/tree" "$B/dist" "$B/x-1"
mkdir -p "$B/root/etc/lpm" "$B/root/usr/bin" "$B/root/usr/lib" "$B/root/usr/share" "$B/tree" "$B/dist" "$B/x-1"
ln -s usr/lib "$B/root/lib"
ln -s usr/bin "$B/root/bin"
echo x > "$B/x-1/README"
tar -C "$B" -czf "$B/dist/x-1.tar.gz" x-1
sum=$(sha256sum "$B/dist/x-1.tar.gz" | cut -d' ' -f1)
printf '[build]\njobs = 2\nstrip = false\ncheck = false\n' > "$B/root/etc/lpm/lpm.toml"
names=""
for d in /usr/share/*; do
	[ -d "$d" ] && [ ! -L "$d" ] || continue
	name=share-$(basename "$d" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9.+\n-' '-')
	mkdir -p "$B/tree/$name"
	cat > "$B/tree/$name/port.toml" <<EOT
name = "$name"
version = "1.0"
[[source]]
url = "file://$B/dist/x-1.tar.gz"
sha256 = "$sum"
[build]
style = "custom"
install = 'mkdir -p \$DESTDIR/usr/share && cp -a "$d" \$DESTDIR/usr/share/'
EOT
	cp -a "$d" "$B/root/usr/share/"
	names="$names $name"
done
echo "ports: $(echo $names | wc -w); files: $(find "$B/root/usr" -type f | wc -l); size: $(du -sh "$B/root/usr" | cut -f1)"
export LPM_CONFIG=
lpm() { "$LPM" --root "$B/root" --ports "$B/tree" --yes "$@"; }
/usr/bin/time -f "build --update-footprint of every port: %e s" "$LPM" --root "$B/root" --ports "$B/tree" -q build --update-footprint $names > /dev/null
rm -rf "$B/root/var/cache/lpm/packages" # only the shipped footprints are left
for i in 1 2 3 4 5 6 7 8 9 10; do echo stray > "$B/root/usr/share/stray-$i"; done
/usr/bin/time -f "adopt --all from footprints: %e s, %M KiB" "$LPM" --root "$B/root" --ports "$B/tree" --yes adopt --all > "$B/adopt.out"
echo "adopted $(grep -c 'path(s) adopted' "$B/adopt.out") packages"
lpm verify > /dev/null && echo "verify: exit 0"
/usr/bin/time -f "unowned /usr: %e s" "$LPM" --root "$B/root" unowned /usr > "$B/unowned.out"
echo "unowned /usr lists $(wc -l < "$B/unowned.out") path(s)"
