#!/usr/bin/env bash
# Builds the root filesystem of a Warren runtime from Debian packages.
#
#   rootfs/build.sh RUNTIME OUTDIR      e.g. rootfs/build.sh provided.al2023 rootfs/out/provided.al2023
#
# The recipe is rootfs/RUNTIME/manifest.json ("packages": one line) plus this
# script. The packages' .debs are fetched with `apt-get download` into a cache
# (rootfs/out/.debs), unpacked with `dpkg-deb -x` (no maintainer scripts, no
# dpkg database), trimmed (docs, locales, gconv), laid out merged-usr like
# Debian (/bin -> usr/bin, /lib -> usr/lib, /lib64 -> usr/lib64) and given the
# mount points and the few /etc files the sandbox needs.
#
# The tree is built in OUTDIR.tmp.PID and renamed into place at the end, so an
# interrupted build never leaves a half tree at OUTDIR; OUTDIR.lock serializes
# concurrent builds. A hash of the recipe is stored as BUILD_ID in
# OUTDIR/etc/os-release; when it matches, nothing is done.
set -euo pipefail

usage() { echo "usage: $0 RUNTIME OUTDIR" >&2; exit 2; }
die() { echo "rootfs: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || usage
runtime=$1
outdir=${2%/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
recipe=$here/$runtime
manifest=$recipe/manifest.json
debs=$here/out/.debs
[[ -f $manifest ]] || die "no recipe for runtime '$runtime' ($manifest)"
for tool in apt-get dpkg-deb flock; do
    command -v "$tool" >/dev/null || die "needs $tool (a Debian or Ubuntu host)"
done

# Recipe hash: this script and everything in the runtime's folder.
recipe_hash() {
    {
        sha256sum "$here/build.sh"
        (cd "$recipe" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
}
hash=$(recipe_hash)

# One build per output at a time (tests and `make` may race); the loser of
# the race then finds the tree up to date.
mkdir -p "$(dirname "$outdir")"
exec 9>"$outdir.lock"
flock 9

if [[ -f $outdir/etc/os-release ]] && grep -qx "BUILD_ID=$hash" "$outdir/etc/os-release"; then
    echo "rootfs: $outdir is up to date ($runtime, $hash)"
    exit 0
fi

# "packages": ["a", "b"] on one line of the manifest.
packages=$(sed -n 's/.*"packages"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p' "$manifest" | tr -d '" ' | tr ',' ' ')
[[ -n $packages ]] || die "$manifest: no \"packages\" line"

tmp=$outdir.tmp.$$
stage=$tmp.stage
cleanup() { rm -rf "$tmp" "$stage"; }
trap cleanup EXIT
rm -rf "$tmp" "$stage"
mkdir -p "$debs" "$tmp" "$stage"

# --- 1. Fetch (cached by exact file name, which carries the version) ----------
# APT::Sandbox::User=root: apt otherwise drops to _apt, which cannot write to a
# cache under a root-owned checkout.
apt_opts=(-o APT::Sandbox::User=root -q)
deb_for() { # prints the file name apt would download for package $1, or nothing
    { apt-get "${apt_opts[@]}" download --print-uris "$1" 2>/dev/null || true; } | awk 'NR==1 { print $2 }'
}
for pkg in $packages; do
    file=$(deb_for "$pkg")
    if [[ -z $file ]]; then
        # Package lists are missing (fresh container): fetch them once.
        [[ $(id -u) -eq 0 ]] || die "apt does not know '$pkg'; run 'apt-get update' as root"
        echo "rootfs: apt does not know '$pkg', running apt-get update"
        apt-get "${apt_opts[@]}" update >/dev/null
        file=$(deb_for "$pkg")
        [[ -n $file ]] || die "package '$pkg' not found in the configured apt sources"
    fi
    if [[ ! -s $debs/$file ]]; then
        echo "rootfs: downloading $file"
        (cd "$debs" && apt-get "${apt_opts[@]}" download "$pkg" >/dev/null)
        [[ -s $debs/$file ]] || die "apt-get download $pkg did not produce $file"
    fi
    echo "rootfs: unpacking $file"
    dpkg-deb -x "$debs/$file" "$stage"
done

# --- 2. Trim: no docs, manuals, locales, lintian, initramfs hooks, gconv ------
rm -rf "${stage:?}"/usr/share "${stage:?}"/usr/lib/*-linux-gnu/gconv "${stage:?}"/etc/ld.so.conf.d

# --- 3. Merged-usr layout -----------------------------------------------------
mkdir -p "$tmp"/usr/bin "$tmp"/usr/sbin "$tmp"/usr/lib "$tmp"/usr/lib64
cp -a "$stage"/usr/. "$tmp"/usr/
for d in bin sbin lib lib64; do
    if [[ -d $stage/$d ]]; then cp -a "$stage/$d"/. "$tmp/usr/$d"/; fi
    ln -s "usr/$d" "$tmp/$d"
done

# --- 4. Busybox and its applets -----------------------------------------------
busybox=$tmp/usr/bin/busybox
[[ -x $busybox ]] || die "no busybox in the packages of $runtime"
# --list-full prints paths like bin/ls, sbin/ifconfig, usr/bin/env.
"$busybox" --list-full | while read -r path; do
    name=${path##*/}
    case $path in
        bin/* | usr/bin/*) link=$tmp/usr/bin/$name target=busybox ;;
        sbin/* | usr/sbin/*) link=$tmp/usr/sbin/$name target=../bin/busybox ;;
        *) continue ;;
    esac
    [[ -e $link || -L $link ]] || ln -s "$target" "$link"
done
for tool in sh ls cat echo env id mkdir rm sleep true false head tail dd wc grep sed ps mount hostname; do
    [[ -L $tmp/usr/bin/$tool || -L $tmp/usr/sbin/$tool ]] || die "busybox has no applet '$tool'"
done

# --- 5. Mount points and /etc -------------------------------------------------
# Empty directories the sandbox mounts over (DESIGN.md "The sandbox").
mkdir -p "$tmp"/{proc,dev,tmp,var/task,var/runtime,opt,etc,root,usr/local/bin}
etc=$tmp/etc
cat >"$etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
sbx_user1051:x:993:990::/tmp:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$etc/group" <<'EOF'
root:x:0:
sbx_user1051:x:990:
nogroup:x:65534:
EOF
cat >"$etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
cat >"$etc/nsswitch.conf" <<'EOF'
passwd: files
group:  files
hosts:  files dns
EOF
: >"$etc/resolv.conf"
cat >"$etc/os-release" <<EOF
NAME="Warren base"
ID=warren
ID_LIKE=debian
PRETTY_NAME="Warren $runtime (provided.al2023-compatible base, Debian 12 packages)"
VARIANT_ID=$runtime
BUILD_ID=$hash
EOF

# --- 6. Ownership and modes: root-owned, world-readable, no set-id bits -------
chown -hR 0:0 "$tmp" 2>/dev/null || echo "rootfs: warning: not root, files keep your uid" >&2
find "$tmp" -type d -exec chmod 0755 {} +
find "$tmp" -type f -exec chmod u+rw,go+r,go-w,ug-s {} +

# --- 7. Swap in -----------------------------------------------------------------
old=$outdir.old.$$
if [[ -e $outdir ]]; then mv "$outdir" "$old"; fi
mv "$tmp" "$outdir"
rm -rf "$old"
echo "rootfs: built $outdir ($runtime, $hash, $(du -sh "$outdir" | cut -f1))"
