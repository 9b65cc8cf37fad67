#!/usr/bin/env bash
# Builds the root filesystem of a Warren runtime from Debian packages.
#
#   rootfs/build.sh RUNTIME OUTDIR      e.g. rootfs/build.sh provided.al2023 rootfs/out/provided.al2023
#
# The recipe is rootfs/RUNTIME/manifest.json plus this script (and, if present,
# rootfs/RUNTIME/hook.sh). The manifest's "packages" (one line) are fetched
# with `apt-get download` into a cache (rootfs/out/.debs), unpacked with
# `dpkg-deb -x` (no maintainer scripts, no dpkg database), trimmed (docs,
# locales, gconv; "keep" saves paths under /usr/share), laid out merged-usr
# like Debian (/bin -> usr/bin, /lib -> usr/lib, /lib64 -> usr/lib64) and given
# the mount points and the few /etc files the sandbox needs. The two package
# postinsts that matter are emulated: ca-certificates' bundle, tzdata's UTC
# /etc/localtime. Optional "pip" wheels (one line, pinned) are installed into
# "pip_target" for CPython "pip_python" with the host's `python3 -m pip`, from
# a cache (rootfs/out/.pip). hook.sh, if any, is sourced last and defines
# hook_tree, which finishes the tree in $tmp.
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
wheels=$here/out/.pip
[[ -f $manifest ]] || die "no recipe for runtime '$runtime' ($manifest)"
for tool in apt-get dpkg-deb flock; do
    command -v "$tool" >/dev/null || die "needs $tool (a Debian or Ubuntu host)"
done

# Manifest fields the script reads with sed, so each sits on one line:
# "KEY": ["a", "b"] prints `a b`; "KEY": "v" prints `v`.
manifest_list() {
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\\[\\([^]]*\\)\\].*/\\1/p" "$manifest" | tr -d '" ' | tr ',' ' '
}
manifest_string() {
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$manifest" | head -n 1
}

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

packages=$(manifest_list packages)
[[ -n $packages ]] || die "$manifest: no \"packages\" line"
keep=$(manifest_list keep)
pip_reqs=$(manifest_list pip)
if [[ -n $pip_reqs ]]; then
    python3 -m pip --version >/dev/null 2>&1 || die "needs pip for the host's python3 (apt-get install python3-pip, or make deps)"
fi

tmp=$outdir.tmp.$$
stage=$tmp.stage
cleanup() { rm -rf "$tmp" "$stage" "$stage.keep"; }
trap cleanup EXIT
rm -rf "$tmp" "$stage" "$stage.keep"
mkdir -p "$debs" "$tmp" "$stage"

# --- 1. Fetch (cached by exact file name, which carries the version) ----------
# APT::Sandbox::User=root: apt otherwise drops to _apt, which cannot write to a
# cache under a root-owned checkout.
apt_opts=(-o APT::Sandbox::User=root -q)
# Every apt-get call reads the package lists (about 2 s), so there is one to
# resolve all the packages and at most one to download the missing ones.
debs_for() { # prints "package file" for each package apt knows among "$@"
    { apt-get "${apt_opts[@]}" download --print-uris "$@" 2>/dev/null || true; } |
        awk '{ f = $2; sub(/_.*/, "", f); print f, $2 }'
}
read -ra pkgs <<<"$packages"
declare -A file_of=()
resolve() {
    local pkg file
    file_of=()
    while read -r pkg file; do file_of[$pkg]=$file; done < <(debs_for "${pkgs[@]}")
    for pkg in "${pkgs[@]}"; do [[ -n ${file_of[$pkg]:-} ]] || return 1; done
}
if ! resolve; then
    # Package lists are missing (fresh container): fetch them once. (apt
    # resolves nothing when it does not know one of the packages.)
    [[ $(id -u) -eq 0 ]] || die "apt does not know some of: $packages; run 'apt-get update' as root"
    echo "rootfs: apt does not know some of the packages, running apt-get update"
    apt-get "${apt_opts[@]}" update >/dev/null
    if ! resolve; then
        for pkg in "${pkgs[@]}"; do
            [[ -n $(debs_for "$pkg") ]] || die "package '$pkg' not found in the configured apt sources"
        done
        die "apt-get download --print-uris does not name a .deb for each of: $packages"
    fi
fi
missing() { # the packages whose .deb is not in the cache
    missing=()
    for pkg in "${pkgs[@]}"; do [[ -s $debs/${file_of[$pkg]} ]] || missing+=("$pkg"); done
    [[ ${#missing[@]} -gt 0 ]]
}
if missing; then
    # Builds of other runtimes share the cache: one downloads at a time.
    exec 8>"$debs/.lock"
    flock 8
    if missing; then
        echo "rootfs: downloading ${missing[*]}"
        (cd "$debs" && apt-get "${apt_opts[@]}" download "${missing[@]}" >/dev/null)
    fi
    exec 8>&-
fi
for pkg in "${pkgs[@]}"; do
    file=${file_of[$pkg]}
    [[ -s $debs/$file ]] || die "apt-get download $pkg did not produce $file"
    echo "rootfs: unpacking $file"
    dpkg-deb -x "$debs/$file" "$stage"
done

# --- 2. Postinsts that matter, then trim ----------------------------------------
# ca-certificates: its postinst (update-ca-certificates) concatenates the
# certificates into one bundle; the openssl package links OpenSSL's default
# paths to it (cert.pem for the file, certs/ for the directory).
if [[ -d $stage/usr/share/ca-certificates ]]; then
    mkdir -p "$stage"/etc/ssl/certs "$stage"/usr/lib/ssl
    find "$stage"/usr/share/ca-certificates -name '*.crt' -print0 | LC_ALL=C sort -z |
        xargs -0 sed -s -e '$a\' >"$stage"/etc/ssl/certs/ca-certificates.crt
    ln -sfn /etc/ssl/certs "$stage"/usr/lib/ssl/certs
    ln -sfn /etc/ssl/certs/ca-certificates.crt "$stage"/usr/lib/ssl/cert.pem
    rm -rf "$stage"/usr/sbin/update-ca-certificates "$stage"/etc/ca-certificates
fi
# No docs, manuals, locales, lintian, initramfs hooks, gconv, except what the
# manifest's "keep" names (paths under /usr/share, e.g. usr/share/zoneinfo).
mkdir -p "$stage.keep"
for path in $keep; do
    [[ -e $stage/$path ]] || die "$manifest: \"keep\" names $path, which no package has"
    mkdir -p "$stage.keep/$(dirname "$path")"
    mv "$stage/$path" "$stage.keep/$path"
done
rm -rf "${stage:?}"/usr/share "${stage:?}"/usr/lib/*-linux-gnu/gconv "${stage:?}"/etc/ld.so.conf.d
cp -a "$stage.keep"/. "$stage"/

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
# Configuration the packages ship (mime.types, the CA bundle, ...).
if [[ -d $stage/etc ]]; then cp -a "$stage"/etc/. "$etc"/; fi
# tzdata's postinst links /etc/localtime; Lambda runs in UTC.
if [[ -f $tmp/usr/share/zoneinfo/Etc/UTC ]]; then
    ln -sfn /usr/share/zoneinfo/Etc/UTC "$etc"/localtime
    echo Etc/UTC >"$etc"/timezone
fi
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
PRETTY_NAME="Warren $runtime (stands in for Lambda's $runtime, Debian 12 packages)"
VARIANT_ID=$runtime
BUILD_ID=$hash
EOF

# --- 6. Python wheels (optional) ------------------------------------------------
# Binary wheels only, for the runtime's CPython rather than the host's, from the
# cache when it has them all (no network), else downloaded into it first.
if [[ -n $pip_reqs ]]; then
    pip_target=$(manifest_string pip_target)
    pip_python=$(manifest_string pip_python)
    [[ $pip_target == /* && -n $pip_python ]] || die "$manifest: \"pip\" needs \"pip_target\" (absolute) and \"pip_python\" (e.g. 3.11)"
    mkdir -p "$wheels"
    pip_dest=$stage/pip-target # copied to $pip_target when complete
    pip_for() { # pip_for download|install ARGS...: pip for the runtime's platform
        PIP_REQUIRE_VIRTUALENV=0 PYTHONDONTWRITEBYTECODE=1 python3 -m pip "$1" -q \
            --disable-pip-version-check --no-input --only-binary=:all: \
            --implementation cp --python-version "$pip_python" --abi "cp${pip_python/./}" \
            --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 "${@:2}"
    }
    pip_install() { # from the cache only
        rm -rf "$pip_dest"
        pip_for install --no-index --find-links "$wheels" --no-compile --root-user-action=ignore \
            --target "$pip_dest" $pip_reqs
    }
    echo "rootfs: installing $pip_reqs into $pip_target"
    if ! pip_install >/dev/null 2>&1; then
        exec 8>"$wheels/.lock"
        flock 8
        if ! pip_install >/dev/null 2>&1; then
            echo "rootfs: downloading $pip_reqs into $wheels"
            pip_for download --dest "$wheels" $pip_reqs || die "pip download failed"
            pip_install || die "pip install failed"
        fi
        exec 8>&-
    fi
    mkdir -p "$tmp$pip_target"
    cp -a "$pip_dest"/. "$tmp$pip_target"/
fi

# --- 7. The runtime's own steps (hook.sh defines hook_tree) ----------------------
if [[ -f $recipe/hook.sh ]]; then
    # shellcheck source=/dev/null
    source "$recipe/hook.sh"
    hook_tree
fi

# --- 8. Ownership and modes: root-owned, world-readable, no set-id bits -------
chown -hR 0:0 "$tmp" 2>/dev/null || echo "rootfs: warning: not root, files keep your uid" >&2
find "$tmp" -type d -exec chmod 0755 {} +
find "$tmp" -type f -exec chmod u+rw,go+r,go-w,ug-s {} +

# --- 9. Swap in -----------------------------------------------------------------
old=$outdir.old.$$
if [[ -e $outdir ]]; then mv "$outdir" "$old"; fi
mv "$tmp" "$outdir"
rm -rf "$old"
echo "rootfs: built $outdir ($runtime, $hash, $(du -sh "$outdir" | cut -f1))"
