# Sourced by rootfs/build.sh for the python3.11 runtime once the tree in $tmp
# has its packages, /etc and the pip wheels (in /var/runtime); see build.sh.

hook_tree() {
    local lib=$tmp/usr/lib/python3.11 so=cpython-311-x86_64-linux-gnu.so

    # Trim what no function needs: test suites and test-only C modules, the
    # GUI and 2to3 leftovers (Debian ships most of them in other packages),
    # nis (needs libnsl, libtirpc and Kerberos; removed in 3.13), Debian's
    # sitecustomize (an apport hook), the leap-second time zones.
    rm -rf "$lib"/{test,idlelib,tkinter,turtledemo,ensurepip,lib2to3,turtle.py,sitecustomize.py} \
        "$lib"/lib-dynload/{_test*,_ctypes_test,_xxtestfuzz,xxlimited,xxlimited_35,nis}.$so \
        "$tmp"/etc/python3.11 "$tmp"/usr/share/zoneinfo/right "$tmp"/var/runtime/simplejson/tests
    find "$tmp" -name __pycache__ -prune -exec rm -rf {} +

    # python3 as in Debian's python3-minimal; /var/lang/bin as on Lambda.
    ln -s python3.11 "$tmp"/usr/bin/python3
    mkdir -p "$tmp"/var/lang/bin
    for name in python3.11 python3 python; do
        ln -s /usr/bin/python3.11 "$tmp/var/lang/bin/$name"
    done

    install -m 0755 "$recipe"/bootstrap "$tmp"/var/runtime/bootstrap
    [[ -f $tmp/var/runtime/runtime_client.$so ]] ||
        die "awslambdaric's wheel has no runtime_client.$so (not a cp311 manylinux build?)"

    # Compile the standard library and /var/runtime with the tree's own
    # python: the root is read-only at run time, and without .pyc files every
    # cold start compiles what it imports (awslambdaric's imports: 0.5 s
    # instead of 0.09 s). Then check that the modules a handler expects load.
    local chroot in_tree=()
    chroot=$(PATH=$PATH:/usr/sbin:/sbin command -v chroot) || chroot=
    if [[ -n $chroot && $(id -u) -eq 0 ]]; then
        in_tree=("$chroot" "$tmp")
    elif [[ -n $chroot ]] && unshare --map-root-user true 2>/dev/null; then
        in_tree=(unshare --map-root-user "$chroot" "$tmp")
    else
        echo "rootfs: warning: cannot chroot into the tree (not root): no .pyc files, no smoke test" >&2
        return 0
    fi
    env -i PATH=/usr/bin LANG=C.UTF-8 "${in_tree[@]}" /usr/bin/python3 -m compileall -q -q \
        /usr/lib/python3.11 /var/runtime || die "compileall failed in the new tree"
    env -i PATH=/usr/bin LANG=C.UTF-8 PYTHONPATH=/var/runtime PYTHONDONTWRITEBYTECODE=1 \
        "${in_tree[@]}" /usr/bin/python3 -c '
import json, ssl, socket, sqlite3, ctypes, decimal, uuid, hashlib, asyncio, multiprocessing, urllib.request, zoneinfo
import awslambdaric.bootstrap, runtime_client
assert ssl.create_default_context().cert_store_stats()["x509_ca"] > 100
zoneinfo.ZoneInfo("Europe/Berlin")
' || die "python3 in the new tree fails its smoke test"
}
