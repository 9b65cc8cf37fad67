// static-cflags: -nostdlib -ffreestanding -fno-stack-protector -fno-builtin -fno-asynchronous-unwind-tables
/*
 * warren-init: pid 1 of every Warren sandbox.
 *
 * Run by execveat() on a descriptor opened before pivot_root, so the rootfs
 * need not contain it, nor a libc. It uses no libc at all: raw system calls
 * only, which makes its exec about 0.3 ms cheaper than a static glibc
 * program (no relocation, TLS or stdio set-up), on every cold start. It
 *   - makes itself non-dumpable, so the payload (same uid) cannot write
 *     into it through /proc/1/mem and so escape the seccomp filter that
 *     only the payload carries;
 *   - starts a new session, so a terminal passed as stdin is no controlling
 *     terminal inside (no TIOCSTI into the operator's shell);
 *   - forks the payload, which loads the seccomp filter last and execs;
 *   - forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to it,
 *     reaps every orphan, and exits with the payload's status, after
 *     writing the payload's raw wait status to the status fd.
 *
 * usage: warren-init ERR_FD STATUS_FD BPF_FD BPF_FLAGS [NOTIFY_FD] -- PATH ARGV0 [ARG...]
 * (fd -1: absent; BPF_FLAGS: seccomp(2)'s SECCOMP_FILTER_FLAG_* bits).
 * NOTIFY_FD, a unix socket to the supervisor of `warren policy test` and
 * `learn`, serves one of two hand-overs:
 *   - BPF_FLAGS has SECCOMP_FILTER_FLAG_NEW_LISTENER: the payload sends the
 *     seccomp listener after the load (seccomp() returns it in the payload's
 *     own process, and only the supervisor outside may answer it). The
 *     filter must allow sendmsg() on NOTIFY_FD, the one call made between
 *     the load and execve.
 *   - otherwise the supervisor is a ptrace tracer: before the load the
 *     payload writes one byte (the kernel attaches its pid, as the
 *     supervisor's namespace sees it) and waits for one back, sent once the
 *     supervisor has seized it; the filter's SECCOMP_RET_TRACE calls then
 *     stop for it.
 * Both descriptors are close-on-exec, so the program never has them.
 * Errors before the payload's execve are reported as a struct
 * wrn_err_record on ERR_FD, like every earlier step.
 */
#include "wrn_spawn.h"

#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/signal.h>

#define WNOHANG 1
#define MAX_BPF_INSNS 4096 /* BPF_MAXINSNS */
#define KERNEL_SIGSET_SIZE 8

/* ---- system calls ------------------------------------------------------ */

#if defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
__asm__(".text\n.global _start\n_start:\n"
        "  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call wrn_start\n  hlt\n");
#elif defined(__aarch64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}
__asm__(".text\n.global _start\n_start:\n"
        "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  and sp, x0, #~15\n  bl wrn_start\n  brk #0\n");
#else
#error "warren-init: add the system call convention of this architecture"
#endif

#define SYS(n, a, b, c, d) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static void __attribute__((noreturn)) sys_exit(int code)
{
    SYS(__NR_exit_group, code, 0, 0, 0);
    /* Only the payload's filter can refuse exit_group (after an exec that failed under it): a
     * fault ends the process where no system call can, rather than a loop that spins. */
    __builtin_trap();
}

/* The compiler may emit calls to these for struct copies. */
void *memcpy(void *dst, const void *src, unsigned long n)
{
    char *d = dst;
    const char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, unsigned long n)
{
    char *d = dst;
    while (n--)
        *d++ = (char)c;
    return dst;
}

static unsigned long str_len(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* -1..2^20, or -2 when not a number. */
static long parse_num(const char *s)
{
    int neg = *s == '-';
    long v = 0;
    if (neg)
        s++;
    if (!*s)
        return -2;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1 << 20)
            return -2;
        v = v * 10 + (*s - '0');
    }
    v = neg ? -v : v;
    return v < -1 ? -2 : v;
}

/* ---- the init ---------------------------------------------------------- */

static struct sock_filter bpf[MAX_BPF_INSNS];

static void __attribute__((noreturn)) fail(int fd, int32_t step, long err)
{
    struct wrn_err_record rec = { step, (int32_t)-err, -1 };
    if (fd >= 0)
        SYS(__NR_write, fd, &rec, sizeof rec, 0);
    sys_exit(127);
}

/* Reads the compiled filter; returns the number of instructions. */
static long read_bpf(int fd, int err_fd)
{
    unsigned long got = 0;
    while (got < sizeof bpf) {
        long n = SYS(__NR_pread64, fd, (char *)bpf + got, sizeof bpf - got, got);
        if (n == -EINTR)
            continue;
        if (n < 0)
            fail(err_fd, WRN_STEP_SECCOMP, n);
        if (n == 0)
            break;
        got += (unsigned long)n;
    }
    if (got == 0 || got % sizeof bpf[0] != 0)
        fail(err_fd, WRN_STEP_SECCOMP, -EINVAL);
    SYS(__NR_close, fd, 0, 0, 0);
    return (long)(got / sizeof bpf[0]);
}

/* execvp without allocations: PATH from the payload's environment.
 * Returns the most telling error (negative). */
static long exec_path(const char *path, char *const argv[], char *const envp[])
{
    const char *p = 0;
    for (const char *c = path; *c; c++)
        if (*c == '/')
            return SYS(__NR_execve, path, argv, envp, 0);
    for (char *const *e = envp; *e; e++)
        if ((*e)[0] == 'P' && (*e)[1] == 'A' && (*e)[2] == 'T' && (*e)[3] == 'H' && (*e)[4] == '=')
            p = *e + 5;
    if (!p)
        p = "/usr/local/bin:/usr/bin:/bin";
    long saved = -ENOENT;
    unsigned long plen = str_len(path);
    while (*p) {
        const char *end = p;
        while (*end && *end != ':')
            end++;
        unsigned long dlen = (unsigned long)(end - p);
        char buf[4096];
        if (dlen + plen + 2 <= sizeof buf) {
            memcpy(buf, p, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, path, plen + 1);
            long err = SYS(__NR_execve, buf, argv, envp, 0);
            if (err != -ENOENT && err != -ENOTDIR)
                saved = err;
        }
        p = *end ? end + 1 : end;
    }
    return saved;
}

/* The kernel's struct msghdr / cmsghdr (LP64), which uapi headers lack. */
struct wrn_iovec {
    void *base;
    unsigned long len;
};
struct wrn_msghdr {
    void *name;
    int namelen;
    struct wrn_iovec *iov;
    unsigned long iovlen;
    void *control;
    unsigned long controllen;
    unsigned flags;
};
struct wrn_cmsg_fd {
    unsigned long len;
    int level;
    int type;
    int fd;
    int pad; /* CMSG_SPACE(sizeof(int)) is 24 */
};

/* Sends `fd` over the unix socket `sock` (SCM_RIGHTS) with one byte. */
static long send_fd(int sock, int fd)
{
    char byte = 'L';
    struct wrn_iovec iov = { &byte, 1 };
    struct wrn_cmsg_fd cmsg = { 20 /* CMSG_LEN(sizeof(int)) */, 1 /* SOL_SOCKET */, 1 /* SCM_RIGHTS */, fd, 0 };
    struct wrn_msghdr msg = { 0, 0, &iov, 1, &cmsg, sizeof cmsg, 0 };
    long n;
    do
        n = SYS(__NR_sendmsg, sock, &msg, 0, 0);
    while (n == -EINTR);
    return n < 0 ? n : 0;
}

static void __attribute__((noreturn))
run_payload(int err_fd, int notify_fd, long insns, unsigned flags, char *const argv[], char *const envp[])
{
    unsigned long none = 0;
    SYS(__NR_rt_sigprocmask, SIG_SETMASK, &none, 0, KERNEL_SIGSET_SIZE);
    /* The err pipe closes on a successful execve: EOF tells the parent. */
    long err = err_fd >= 0 ? SYS(__NR_fcntl, err_fd, F_SETFD, FD_CLOEXEC, 0) : 0;
    if (err < 0)
        fail(err_fd, WRN_STEP_EXEC, err);
    if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        /* Nobody could answer the listener: every notified call would hang. */
        if (notify_fd < 0)
            fail(err_fd, WRN_STEP_SECCOMP, -EINVAL);
        err = SYS(__NR_fcntl, notify_fd, F_SETFD, FD_CLOEXEC, 0);
        if (err < 0)
            fail(err_fd, WRN_STEP_SECCOMP, err);
    } else if (notify_fd >= 0) {
        /* The tracer's hand-over: our pid out, its go-ahead back. EOF means it could not
           seize us, and every traced call would fail with ENOSYS: stop here. */
        err = SYS(__NR_fcntl, notify_fd, F_SETFD, FD_CLOEXEC, 0);
        char byte = 'T';
        if (err == 0)
            do
                err = SYS(__NR_write, notify_fd, &byte, 1, 0);
            while (err == -EINTR);
        if (err == 1)
            do
                err = SYS(__NR_read, notify_fd, &byte, 1, 0);
            while (err == -EINTR);
        if (err != 1)
            fail(err_fd, WRN_STEP_SECCOMP, err < 0 ? err : -EPIPE);
    }
    if (insns > 0) {
        struct sock_fprog prog = { (unsigned short)insns, bpf };
        err = SYS(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog, 0);
        if (err < 0)
            fail(err_fd, WRN_STEP_SECCOMP, err);
        /* The listener is close-on-exec; the supervisor holds its own copy. */
        if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
            err = send_fd(notify_fd, (int)err);
            if (err < 0)
                fail(err_fd, WRN_STEP_SECCOMP, err);
        }
    }
    fail(err_fd, WRN_STEP_EXEC, exec_path(argv[0], argv + 1, envp));
}

static int exit_code(int status)
{
    int sig = status & 0x7f;
    if (sig == 0)
        return (status >> 8) & 0xff;
    return sig == 0x7f ? 255 : 128 + sig;
}

static int forwarded(long sig)
{
    return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 || sig == SIGUSR2;
}

static void __attribute__((noreturn)) supervise(long child, int status_fd)
{
    unsigned long all = ~0UL;
    for (;;) {
        char info[128]; /* siginfo_t */
        long sig = SYS(__NR_rt_sigtimedwait, &all, info, 0, KERNEL_SIGSET_SIZE);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            if (forwarded(sig))
                SYS(__NR_kill, child, sig, 0, 0);
            continue;
        }
        int status;
        long pid;
        while ((pid = SYS(__NR_wait4, -1, &status, WNOHANG, 0)) > 0) {
            if (pid != child)
                continue;
            if (status_fd >= 0) {
                struct wrn_status_record rec = { WRN_STATUS_MAGIC, status };
                SYS(__NR_write, status_fd, &rec, sizeof rec, 0);
            }
            /* Our exit ends the pid namespace: the kernel kills the rest. */
            sys_exit(exit_code(status));
        }
    }
}

void __attribute__((noreturn, used)) wrn_start(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    /* NOTIFY_FD is optional: "--" is then argv[5], else argv[6]. */
    int sep = argc >= 8 && str_eq(argv[5], "--") ? 5 : argc >= 9 && str_eq(argv[6], "--") ? 6 : 0;
    if (!sep)
        sys_exit(127);
    long err_fd = parse_num(argv[1]), status_fd = parse_num(argv[2]), bpf_fd = parse_num(argv[3]);
    long flags = parse_num(argv[4]), notify_fd = sep == 6 ? parse_num(argv[5]) : -1;
    if (err_fd < -1 || status_fd < -1 || bpf_fd < -1 || flags < 0 || notify_fd < -1)
        sys_exit(127);

    SYS(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0);
    SYS(__NR_setsid, 0, 0, 0, 0);
    long insns = bpf_fd >= 0 ? read_bpf((int)bpf_fd, (int)err_fd) : 0;

    /* Every signal waits for sigtimedwait; the payload unblocks them. */
    unsigned long all = ~0UL;
    SYS(__NR_rt_sigprocmask, SIG_SETMASK, &all, 0, KERNEL_SIGSET_SIZE);

    long child = sys6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
    if (child < 0)
        fail((int)err_fd, WRN_STEP_INIT_FORK, child);
    if (child == 0) {
        if (status_fd >= 0)
            SYS(__NR_close, status_fd, 0, 0, 0);
        run_payload((int)err_fd, (int)notify_fd, insns, (unsigned)flags, argv + sep + 1, envp);
    }
    if (err_fd >= 0)
        SYS(__NR_close, err_fd, 0, 0, 0);
    /* Only the payload sends on it; the supervisor sees EOF if it dies first. */
    if (notify_fd >= 0)
        SYS(__NR_close, notify_fd, 0, 0, 0);
    supervise(child, (int)status_fd);
}
