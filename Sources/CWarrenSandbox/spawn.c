/*
 * spawn.c: pid 1 of a Warren sandbox, from clone() to execveat(warren-init).
 *
 * The child shares the parent's memory (CLONE_VM, like posix_spawn) so that
 * no page tables of the large Swift parent are copied. The parent thread is
 * blocked in read() on the error pipe for the whole time the child runs, so
 * the two never touch the same memory concurrently; the child still uses raw
 * syscalls only (no malloc, no stdio, no locks), and never the glibc set*id
 * wrappers, which would signal the parent's other threads (nptl setxid).
 */
#define _GNU_SOURCE
#include "wrn_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#define WRN_CHILD_STACK (256 * 1024)

/* read/write/open/close through syscall(): the glibc wrappers are
 * cancellation points that flip bits in the *parent thread's* TLS, which
 * the child shares. */
#define wrn_read(fd, buf, n) syscall(SYS_read, (fd), (buf), (n))
#define wrn_write(fd, buf, n) syscall(SYS_write, (fd), (buf), (n))
#define wrn_close_raw(fd) syscall(SYS_close, (fd))

struct wrn_child_ctx {
    const struct wrn_spawn_req *req;
    int sync_fd;     /* our end: the parent's go */
    int sync_parent; /* the parent's end, which our copy of the fd table holds too */
};

/* Reports a failed step and ends the child. One write of a 12-byte record
 * (atomic); errors of write itself cannot be reported anywhere. */
static void __attribute__((noreturn))
wrn_fail(int fd, int32_t step, int32_t err, int32_t index)
{
    struct wrn_err_record rec = { step, err, index };
    long n = wrn_write(fd, &rec, sizeof rec);
    (void)n;
    _exit(127);
}

#define STEP(step, index, call)                                              \
    do {                                                                     \
        if ((call) < 0)                                                      \
            wrn_fail(r->err_fd, (step), errno, (index));                     \
    } while (0)

static int wrn_mount_one(const struct wrn_mount *m)
{
    switch (m->kind) {
    case WRN_MOUNT_BIND:
        return mount(m->source, m->target, NULL, MS_BIND | MS_REC, NULL);
    case WRN_MOUNT_TMPFS:
        return mount("tmpfs", m->target, "tmpfs", m->flags, m->data);
    case WRN_MOUNT_PROC:
        return mount("proc", m->target, "proc", m->flags, NULL);
    case WRN_MOUNT_OVERLAY:
        /* A read-only overlay of source; where the kernel refuses one (a filesystem it cannot
         * stack on), the read-only bind of source it replaces. */
        if (mount("overlay", m->target, "overlay", m->flags, m->data) == 0)
            return 0;
        if (mount(m->source, m->target, NULL, MS_BIND | MS_REC, NULL) < 0)
            return -1;
        return mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | m->flags, NULL);
    case WRN_MOUNT_FILE: {
        long fd = syscall(SYS_openat, AT_FDCWD, m->target,
                          O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
        if (fd < 0)
            return -1;
        wrn_close_raw(fd);
        return 0;
    }
    case WRN_MOUNT_MKNOD:
        /* Cheaper than a bind of the host's node (one syscall, no mount). */
        return mknod(m->target, S_IFCHR | 0666, makedev(m->flags >> 20, m->flags & 0xfffff));
    case WRN_MOUNT_SYMLINK:
        return symlink(m->source, m->target);
    case WRN_MOUNT_REMOUNT: {
        unsigned long f = MS_REMOUNT | m->flags;
        if (m->options & WRN_MOUNT_F_BIND)
            f |= MS_BIND;
        return mount(NULL, m->target, NULL, f, NULL);
    }
    default:
        errno = EINVAL;
        return -1;
    }
}

/* pivot_root(".", ".") stacks the old root on top of the new one; detaching
 * it leaves only the new root (as runc and bwrap do), with no directory to
 * create inside a read-only rootfs. */
static int wrn_pivot_root(const char *rootfs)
{
    if (chdir(rootfs) < 0)
        return -1;
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return -1;
    if (umount2(".", MNT_DETACH) < 0)
        return -1;
    return chdir("/");
}

static int wrn_loopback_up(void)
{
    struct ifreq ifr;
    int fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        goto fail;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        goto fail;
    wrn_close_raw(fd);
    return 0;
fail:;
    int e = errno;
    wrn_close_raw(fd);
    errno = e;
    return -1;
}

static int wrn_drop_bounding(int last_cap)
{
    for (int cap = 0; cap <= last_cap; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -1;
    }
    return 0;
}

/* Raw capset: libcap allocates, and runs in the parent only. */
static int wrn_clear_caps(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

static int wrn_reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /* EINVAL for the signals glibc reserves (32, 33): nothing to reset. */
        if (sigaction(sig, &sa, NULL) < 0 && errno != EINVAL)
            return -1;
    }
    return 0;
}

/* stdio to 0/1/2, everything else close-on-exec but the fds to pass. */
static int wrn_setup_fds(const struct wrn_spawn_req *r)
{
    const int std[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
    for (int i = 0; i < 3; i++) {
        if (std[i] < 0)
            continue;
        if (std[i] == i) {
            if (fcntl(i, F_SETFD, 0) < 0)
                return -1;
        } else if (dup2(std[i], i) < 0) {
            return -1;
        }
    }
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        return -1;
    for (int i = 0; i < r->n_pass_fds; i++) {
        if (fcntl(r->pass_fds[i], F_SETFD, 0) < 0)
            return -1;
    }
    return 0;
}

static int wrn_child(void *arg)
{
    const struct wrn_child_ctx *ctx = arg;
    const struct wrn_spawn_req *r = ctx->req;
    char go;

    /* 2. The parent has put us into our cgroup when this read returns a
     *    byte: no code of the function may run before. Our copy of the
     *    parent's end goes first, so that a parent that dies before its go
     *    means EOF here, not a child blocked for ever. */
    wrn_close_raw(ctx->sync_parent);
    wrn_close_raw(r->err_read_fd);
    /* Set now and again after setuid (which clears it), so that no moment
     * exists in which the parent's death leaves us running. */
    STEP(WRN_STEP_PDEATHSIG, -1, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    if (wrn_read(ctx->sync_fd, &go, 1) != 1)
        wrn_fail(r->err_fd, WRN_STEP_SYNC, errno ? errno : EPIPE, -1);
    STEP(WRN_STEP_SIGNALS, -1, wrn_reset_signals());
    if (r->clone_flags & CLONE_NEWCGROUP)
        STEP(WRN_STEP_CGROUPNS, -1, unshare(CLONE_NEWCGROUP));

    /* 1b. A prepared network namespace replaces CLONE_NEWNET. */
    if (r->netns_fd >= 0)
        STEP(WRN_STEP_NETNS, -1, setns(r->netns_fd, CLONE_NEWNET));

    /* 3. Root filesystem. Private propagation first, so that nothing we
     *    mount leaks to the host and no host mount event reaches us. */
    STEP(WRN_STEP_MOUNT_PRIVATE, -1, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    /* An overlay of the rootfs of this sandbox's own; where there is none or the kernel refuses it
     * (a filesystem it cannot stack on), a bind, made read-only below. */
    if (!r->rootfs_overlay
        || mount("overlay", r->rootfs, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, r->rootfs_overlay) < 0)
        STEP(WRN_STEP_BIND_ROOT, -1, mount(r->rootfs, r->rootfs, NULL, MS_BIND | MS_REC, NULL));
    /* Nodes and links get exactly the modes asked for; the payload gets
     * the usual 022 back below. */
    umask(0);
    for (int i = 0; i < r->n_mounts; i++)
        STEP(WRN_STEP_MOUNT, i, wrn_mount_one(&r->mounts[i]));
    umask(022);
    /* Read-only last: the mount points above had to be resolved in it, and
     * a read-only bind does not change the submounts. */
    if (r->rootfs_readonly)
        STEP(WRN_STEP_REMOUNT_ROOT, -1,
             mount(NULL, r->rootfs, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL));
    STEP(WRN_STEP_PIVOT_ROOT, -1, wrn_pivot_root(r->rootfs));

    /* 4. Network: loopback only. */
    if (r->loopback_up)
        STEP(WRN_STEP_LOOPBACK, -1, wrn_loopback_up());

    /* 5. Identity and limits, while we still hold CAP_SYS_ADMIN/RESOURCE. */
    if (r->hostname)
        STEP(WRN_STEP_HOSTNAME, -1, sethostname(r->hostname, strlen(r->hostname)));
    if (r->sched_batch) {
        /* Inherited by init and the payload across fork and exec. */
        struct sched_param none = { 0 };
        STEP(WRN_STEP_SCHED, -1, (int)syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &none));
    }
    for (int i = 0; i < r->n_rlimits; i++) {
        struct rlimit lim = { r->rlimits[i].soft, r->rlimits[i].hard };
        STEP(WRN_STEP_RLIMIT, i, setrlimit(r->rlimits[i].resource, &lim));
    }
    /* The bounding set needs CAP_SETPCAP, gone after setuid; groups and gid
     * need CAP_SETGID, so all before setuid. Raw syscalls: see the top. */
    STEP(WRN_STEP_CAPBSET, -1, wrn_drop_bounding(r->last_cap));
    STEP(WRN_STEP_SETGROUPS, -1, (int)syscall(SYS_setgroups, 0, NULL));
    STEP(WRN_STEP_SETGID, -1, (int)syscall(SYS_setresgid, r->gid, r->gid, r->gid));
    STEP(WRN_STEP_SETUID, -1, (int)syscall(SYS_setresuid, r->uid, r->uid, r->uid));

    /* 6. Capabilities: setuid to non-zero cleared permitted and effective;
     *    inheritable and ambient are cleared explicitly. */
    STEP(WRN_STEP_CAPSET, -1, wrn_clear_caps());
    STEP(WRN_STEP_AMBIENT, -1, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    if (r->no_new_privs)
        STEP(WRN_STEP_NO_NEW_PRIVS, -1, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    /* After the credential change, which clears it; then make sure the
     * parent did not die while it was cleared: it holds its end of the
     * sync socket until we exec, so EOF there means it is gone. */
    STEP(WRN_STEP_PDEATHSIG, -1, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    if (syscall(SYS_recvfrom, ctx->sync_fd, &go, 1, MSG_DONTWAIT, NULL, NULL) == 0)
        wrn_fail(r->err_fd, WRN_STEP_PDEATHSIG, ESRCH, -1);

    STEP(WRN_STEP_FDS, -1, wrn_setup_fds(r));
    STEP(WRN_STEP_CHDIR, -1, chdir(r->cwd ? r->cwd : "/"));

    /* 7. warren-init loads the seccomp filter in the payload's process,
     *    right before its execve. The init binary was opened before
     *    pivot_root and need not exist in the rootfs. */
    syscall(SYS_execveat, r->init_fd, "", r->init_argv, r->envp, AT_EMPTY_PATH);
    wrn_fail(r->err_fd, WRN_STEP_EXEC_INIT, errno, -1);
}

static void wrn_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Writes the child's pid into every cgroup.procs; returns the failing index or -1. */
static int wrn_join_cgroups(const struct wrn_spawn_req *r, pid_t pid, int *err)
{
    char buf[16];
    int len = 0;
    for (unsigned v = (unsigned)pid; v > 0 || len == 0; v /= 10)
        len++;
    for (int i = len - 1, v = pid; i >= 0; i--, v /= 10)
        buf[i] = (char)('0' + v % 10);
    for (int i = 0; i < r->n_cgroup_procs; i++) {
        if (pwrite(r->cgroup_procs_fds[i], buf, (size_t)len, 0) != len) {
            *err = errno;
            return i;
        }
    }
    return -1;
}

static int wrn_fail_parent(struct wrn_spawn_result *out, int32_t step, int32_t err, int32_t index)
{
    out->err.step = step;
    out->err.err = err;
    out->err.index = index;
    return -1;
}

int wrn_spawn(const struct wrn_spawn_req *r, struct wrn_spawn_result *out)
{
    int sync[2] = { -1, -1 };
    int err_read = r->err_read_fd, err_write = r->err_fd;
    struct wrn_child_ctx ctx = { r, -1, -1 };
    sigset_t all, old;
    int flags = r->clone_flags | CLONE_VM | CLONE_PIDFD | SIGCHLD;
    int pidfd = -1;

    memset(out, 0, sizeof *out);
    out->pid = -1;
    out->pidfd = -1;
    if (r->netns_fd >= 0)
        flags &= ~CLONE_NEWNET;
    flags &= ~CLONE_NEWCGROUP;
    /* A socket, not a pipe: send(MSG_NOSIGNAL) to a child that died early
     * gives EPIPE instead of a SIGPIPE that would kill the supervisor. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0)
        return wrn_fail_parent(out, WRN_STEP_CLONE, errno, -1);
    void *stack = mmap(NULL, WRN_CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int e = errno;
        wrn_close(&sync[0]);
        wrn_close(&sync[1]);
        return wrn_fail_parent(out, WRN_STEP_CLONE, e, -1);
    }
    ctx.sync_fd = sync[0];
    ctx.sync_parent = sync[1];

    /* The child starts with every signal blocked, so no handler of the
     * parent runs on the child's stack before it resets them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(wrn_child, (char *)stack + WRN_CHILD_STACK, flags, &ctx, &pidfd);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    wrn_close(&sync[0]);
    close(err_write);
    if (pid < 0) {
        wrn_close(&sync[1]);
        munmap(stack, WRN_CHILD_STACK);
        return wrn_fail_parent(out, WRN_STEP_CLONE, clone_errno, -1);
    }

    int cg_err = 0;
    int cg_index = wrn_join_cgroups(r, pid, &cg_err);
    if (cg_index < 0) {
        char go = 1;
        if (send(sync[1], &go, 1, MSG_NOSIGNAL) != 1 && errno != EPIPE)
            cg_err = errno;
    }
    /* On a cgroup failure the child sees EOF on the sync socket and exits. */
    if (cg_index >= 0 || cg_err != 0)
        wrn_close(&sync[1]);

    struct wrn_err_record rec;
    ssize_t n;
    do {
        n = read(err_read, &rec, sizeof rec);
    } while (n < 0 && errno == EINTR);
    wrn_close(&sync[1]);

    if (n == 0 && cg_index < 0 && cg_err == 0) {
        /* EOF: every write end closed, the payload has exec'd. The child's
         * stack is no longer in use (its pid 1 exec'd warren-init). */
        munmap(stack, WRN_CHILD_STACK);
        out->pid = pid;
        out->pidfd = pidfd;
        return 0;
    }

    /* Failure: reap pid 1 before releasing the stack it may still run on.
     * If the payload's exec failed, init exits on its own once it sees it. */
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
        ;
    munmap(stack, WRN_CHILD_STACK);
    if (pidfd >= 0)
        close(pidfd);
    if (cg_index >= 0 || cg_err != 0)
        return wrn_fail_parent(out, WRN_STEP_CGROUP, cg_err, cg_index);
    if (n == (ssize_t)sizeof rec)
        return wrn_fail_parent(out, rec.step, rec.err, rec.index);
    /* A short record or a child killed before it could write one. */
    return wrn_fail_parent(out, WRN_STEP_SYNC, n < 0 ? errno : EPIPE, -1);
}

int wrn_sandbox_namespaces(void)
{
    return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
}

int wrn_open_path(const char *path)
{
    return open(path, O_PATH | O_CLOEXEC);
}

int wrn_pipe_cloexec(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

int wrn_pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int wrn_pidfd_open(int pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

long wrn_ptrace(long request, int pid, unsigned long addr, unsigned long data)
{
    return syscall(SYS_ptrace, request, pid, addr, data);
}

int wrn_ptrace_skip_call(int pid, long value)
{
#if defined(__x86_64__)
    /* seccomp(2): a tracer skips the call by setting its number to -1; the call then appears to
       return what is in the return value register. */
    struct user_regs_struct regs;
    if (syscall(SYS_ptrace, PTRACE_GETREGS, pid, NULL, &regs) < 0)
        return -1;
    regs.orig_rax = (unsigned long long)-1;
    regs.rax = (unsigned long long)value;
    return syscall(SYS_ptrace, PTRACE_SETREGS, pid, NULL, &regs) < 0 ? -1 : 0;
#else
    (void)pid;
    (void)value;
    errno = ENOSYS;
    return -1;
#endif
}

int wrn_spawn_with_stdin(const char *path, char *const argv[], int stdin_fd, int *pid)
{
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0)
        return rc;
    rc = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0) {
        pid_t child;
        rc = posix_spawn(&child, path, &actions, NULL, argv, environ);
        if (rc == 0)
            *pid = child;
    }
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int wrn_wait_peek(int *pid, int *code)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | __WALL | WNOWAIT) < 0)
        return -1;
    *pid = info.si_pid;
    *code = info.si_code;
    return 0;
}

int wrn_signalfd(const int *signals, int n)
{
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < n; i++)
        sigaddset(&set, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int wrn_signalfd_read(int fd)
{
    struct signalfd_siginfo info;
    if (read(fd, &info, sizeof info) != (ssize_t)sizeof info)
        return 0;
    return (int)info.ssi_signo;
}

int wrn_memfd(const char *name)
{
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

static int wrn_listen_loopback(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int wrn_netns_create(uint16_t port, int *listener)
{
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0)
        return -1;
    if (unshare(CLONE_NEWNET) < 0) {
        int e = errno;
        close(home);
        errno = e;
        return -1;
    }
    int fd = wrn_loopback_up() < 0 ? -1 : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && port != 0) {
        *listener = wrn_listen_loopback(port);
        if (*listener < 0) {
            int e = errno;
            close(fd);
            fd = -1;
            errno = e;
        }
    }
    int e = errno;
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
    close(home);
    errno = e;
    return fd;
}

const char *wrn_step_name(int32_t step)
{
    switch (step) {
    case WRN_STEP_CLONE: return "clone";
    case WRN_STEP_CGROUP: return "cgroup";
    case WRN_STEP_SYNC: return "sync";
    case WRN_STEP_SIGNALS: return "signals";
    case WRN_STEP_MOUNT_PRIVATE: return "mount-private";
    case WRN_STEP_BIND_ROOT: return "bind-root";
    case WRN_STEP_MOUNT: return "mount";
    case WRN_STEP_REMOUNT_ROOT: return "remount-root";
    case WRN_STEP_PIVOT_ROOT: return "pivot_root";
    case WRN_STEP_LOOPBACK: return "loopback";
    case WRN_STEP_HOSTNAME: return "hostname";
    case WRN_STEP_RLIMIT: return "rlimit";
    case WRN_STEP_CAPBSET: return "capbset";
    case WRN_STEP_SETGROUPS: return "setgroups";
    case WRN_STEP_SETGID: return "setgid";
    case WRN_STEP_SETUID: return "setuid";
    case WRN_STEP_CAPSET: return "capset";
    case WRN_STEP_AMBIENT: return "ambient";
    case WRN_STEP_NO_NEW_PRIVS: return "no_new_privs";
    case WRN_STEP_PDEATHSIG: return "pdeathsig";
    case WRN_STEP_FDS: return "fds";
    case WRN_STEP_CHDIR: return "chdir";
    case WRN_STEP_EXEC_INIT: return "exec-init";
    case WRN_STEP_INIT_FORK: return "init-fork";
    case WRN_STEP_SECCOMP: return "seccomp";
    case WRN_STEP_EXEC: return "exec";
    case WRN_STEP_NETNS: return "setns-net";
    case WRN_STEP_CGROUPNS: return "cgroupns";
    case WRN_STEP_SCHED: return "sched_setscheduler";
    default: return "unknown";
    }
}
