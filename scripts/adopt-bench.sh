#!/bin/sh
# Times lpm adopt --all and lpm unowned /usr on a root of a realistic size,
# with no network and no package manager of the host involved: the host's
# /usr/share, /usr/bin and multiarch library directory are cut into ports
# whose install copies their part; the root gets them by hand (cp -a, as
# make install would), lpm builds
# each port once for its shipped footprint (build --update-footprint), the
# package cache is emptied, and adopt --all works from the footprints alone.
# It only reads the host's /usr. Usage: sh scripts/adopt-bench.sh [WORKDIR]
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
printf '[build]\njobs = 2\nstrip = false\ncheck = false\nchroot = "never"\n' > "$B/root/etc/lpm/lpm.toml"
names=""
# port NAME DEST GLOB: a port installing the host's GLOB into DEST, and the
# same files copied into the root by hand.
port() {
	mkdir -p "$B/tree/$1" "$B/root/$2"
	cat > "$B/tree/$1/port.toml" <<EOT
name = "$1"
version = "1.0"
[[source]]
url = "file://$B/dist/x-1.tar.gz"
sha256 = "$sum"
[build]
style = "custom"
install = 'mkdir -p \$DESTDIR/$2 && cp -a $3 \$DESTDIR/$2/'
EOT
	eval "cp -a $3 \"$B/root/$2/\""
	names="$names $1"
}
# One port per directory of /usr/share and of the multiarch library
# directory, one per first letter of the files of /usr/bin and of that
# directory: documentation, data, programs and ELF libraries.
lib=/usr/lib/$(uname -m)-linux-gnu
for top in /usr/share $lib; do
	[ -d "$top" ] || continue
	rel=${top#/}
	for d in "$top"/*; do
		[ -d "$d" ] && [ ! -L "$d" ] || continue
		port "$(echo "$rel/$(basename "$d")" | tr 'A-Z/_' 'a-z--' | tr -c 'a-z0-9.+\n-' '-')" "$rel" "\"$d\""
	done
done
for top in /usr/bin $lib; do
	[ -d "$top" ] || continue
	rel=${top#/}
	for letter in a b c d e f g h i j k l m n o p q r s t u v w x y z '[!a-z]'; do
		set -- "$top"/$letter*
		[ -e "$1" ] || [ -L "$1" ] || continue
		files=0
		for f in "$@"; do [ -d "$f" ] && [ ! -L "$f" ] || files=1; done
		[ $files = 1 ] || continue
		tag=$(echo "$letter" | tr -c 'a-z\n' '0')
		port "$(echo "$rel" | tr 'A-Z/_' 'a-z--')-$tag" "$rel" "\$(find $top -maxdepth 1 -name \"$letter*\" ! -type d)"
	done
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
