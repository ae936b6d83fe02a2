# Sourced by demo.sh and test.sh: puts Go on PATH and installs the Debian
# packages lpm's builds and tests use, when they are missing.
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
if ! command -v go >/dev/null 2>&1; then
	echo "setup: Go 1.26 or newer is needed (https://go.dev/dl); it is not on PATH" >&2
	exit 1
fi
need=""
for tool in gcc:gcc make:make patch:patch bzip2:bzip2 xz:xz-utils zstd:zstd strip:binutils diff:diffutils debootstrap:debootstrap minisign:minisign distccd:distcc; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need="$need ${tool#*:}"
done
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need libc6-dev"
if [ -n "$need" ]; then
	echo "setup: installing$need"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
