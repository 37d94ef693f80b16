#!/bin/sh
# debian-root.sh DIR: a minimal Debian root (debootstrap --variant=minbase)
# in DIR, of this machine's release and from the mirror its apt sources
# name, for the package tests (packaging/packaging_test.go) to install the
# deb into. .ci/run starts it early in the background and hands DIR to the
# tests as DUOHUO_DEBIAN_ROOT; without it, the tests run this themselves.
# DIR/.complete is written last: a root without it is unfinished.
set -eu
dir=${1:?usage: debian-root.sh DIR}
. /etc/os-release
suite=${VERSION_CODENAME:?/etc/os-release names no VERSION_CODENAME}
mirror=
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f")
	[ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "debian-root.sh: no Debian mirror in /etc/apt/sources.list{,.d}" >&2; exit 1; }
rm -rf "$dir"
debootstrap --variant=minbase "$suite" "$dir" "$mirror"
touch "$dir/.complete"
