/*
 * probe: asserts Warren's confinement from inside the sandbox.
 *
 * Why a static C program: it must run in any rootfs (even one without a
 * libc), and it must look at the raw kernel state (/proc/self/status,
 * syscalls and their errno) with nothing in between. The Swift tests run it
 * as a function's bootstrap and read its output (crun tests/init.c, youki
 * runtimetest play the same part).
 *
 * Output: one line per check, "ok NAME" or "FAIL NAME: detail", plus
 * "key value" lines for numbers the test compares. Exit status 0 only if
 * every check passed, 1 otherwise, 2 on a usage error.
 *
 *   probe confinement [--host-port N] [--hostname X] [--expect-errno E]
 *   probe tmpfill | oom MB | forkbomb | sleep S | exit N | signal SIG
 *   probe tmpwrite NAME | tmpread NAME | ps | zombies | env
 *   probe syscall NAME...            (prints "NAME ok" or "NAME errno=E")
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <poll.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* same number on every architecture (since 5.x unified table) */
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define MiB (1024L * 1024L)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_PIDS 4096

/* The only mutable global: the number of failed checks of this run. */
static int failures;

static void check(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "ok NAME" or "FAIL NAME: detail" and counts failures. */
static void check(bool ok, const char *name, const char *fmt, ...) {
    if (ok) {
        printf("ok %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static const char *errname(int e) {
    static char buf[16]; /* only for errnos the C library cannot name */
    const char *n = e ? strerrorname_np(e) : "0";
    if (n) return n;
    snprintf(buf, sizeof buf, "%d", e);
    return buf;
}

/* "EPERM" or "1" -> 1; -1 if unknown. */
static int parse_errno(const char *s) {
    if (isdigit((unsigned char)s[0])) return atoi(s);
    for (int e = 1; e < 4096; e++) {
        const char *n = strerrorname_np(e);
        if (n && strcmp(n, s) == 0) return e;
    }
    return -1;
}

/* "TERM", "SIGTERM" or "15" -> 15; -1 if unknown. */
static int parse_signal(const char *s) {
    if (isdigit((unsigned char)s[0])) return atoi(s);
    if (strncmp(s, "SIG", 3) == 0) s += 3;
    for (int sig = 1; sig < NSIG; sig++) {
        const char *n = sigabbrev_np(sig);
        if (n && strcmp(n, s) == 0) return sig;
    }
    return -1;
}

static bool valid_name(const char *s) {
    return s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 200;
}

/* Reads the value of "Key:" from /proc/self/status into out (trimmed). */
static bool status_field(const char *key, char *out, size_t len) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return false;
    char line[256];
    size_t klen = strlen(key);
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':') continue;
        char *v = line + klen + 1;
        v += strspn(v, " \t");
        v[strcspn(v, "\n")] = '\0';
        snprintf(out, len, "%s", v);
        found = true;
    }
    fclose(f);
    return found;
}

/* Numeric entries of /proc, sorted as the kernel lists them. */
static int list_pids(pid_t *pids, int max) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (isdigit((unsigned char)e->d_name[0])) pids[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

/* State letter and parent of a pid from /proc/PID/stat; the comm field may
 * contain spaces and ')' so parse after the last ')'. */
static bool proc_stat(pid_t pid, char *state, pid_t *ppid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int pp;
    if (!p || sscanf(p + 1, " %c %d", state, &pp) != 2) return false;
    *ppid = (pid_t)pp;
    return true;
}

/* ---- Syscalls, called with harmless arguments -------------------------- */
/* Each returns the syscall's result; where it is allowed it fails on a bad
 * argument (ENOENT, EBADF, EFAULT...) or has no lasting effect, and it runs
 * in a throwaway child anyway (see try_syscall). */

static long sc_getcwd(void) { char b[256]; return syscall(SYS_getcwd, b, sizeof b); }
static long sc_getpid(void) { return syscall(SYS_getpid); }
static long sc_personality(void) { return syscall(SYS_personality, 0xffffffffUL); /* query */ }
static long sc_personality0(void) { return syscall(SYS_personality, 0UL); }
static long sc_mount(void) { return syscall(SYS_mount, "none", "/nonexistent-probe", "tmpfs", 0UL, NULL); }
static long sc_umount2(void) { return syscall(SYS_umount2, "/nonexistent-probe", 0); }
static long sc_pivot_root(void) { return syscall(SYS_pivot_root, "/nonexistent-probe", "/nonexistent-probe"); }
static long sc_chroot(void) { return syscall(SYS_chroot, "/nonexistent-probe"); }
static long sc_unshare(void) { return syscall(SYS_unshare, CLONE_NEWUSER); }
static long sc_setns(void) { return syscall(SYS_setns, -1, 0); }
static long sc_ptrace(void) { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL); }
static long sc_bpf(void) { return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0); }
static long sc_keyctl(void) { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0); }
static long sc_perf_event_open(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL); }
static long sc_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static long sc_init_module(void) { return syscall(SYS_init_module, NULL, 0UL, ""); }
static long sc_kexec_load(void) { return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL); }
static long sc_clone3(void) { return syscall(SYS_clone3, NULL, 0UL); }
static long sc_fchmodat2(void) { return syscall(SYS_fchmodat2, AT_FDCWD, "/nonexistent-probe", 0, 0); }
static long sc_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 0, NULL); }
static long sc_io_setup(void) {
    unsigned long ctx = 0;
    long r = syscall(SYS_io_setup, 1, &ctx);
    if (r == 0) syscall(SYS_io_destroy, ctx);
    return r;
}
static long sc_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
static long sc_add_key(void) { return syscall(SYS_add_key, NULL, NULL, NULL, 0, 0); }
static long sc_reboot(void) { return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic */ }
static long sc_socket_inet(void) { return socket(AF_INET, SOCK_STREAM, 0); }
static long sc_socket_unix(void) { return socket(AF_UNIX, SOCK_STREAM, 0); }
static long sc_socket_vsock(void) { return socket(AF_VSOCK, SOCK_STREAM, 0); }
static long sc_socket_netlink(void) { return socket(AF_NETLINK, SOCK_RAW, 0); }
static long sc_socket_packet(void) { return socket(AF_PACKET, SOCK_RAW, 0); }
static long sc_socket_inet6(void) { return socket(AF_INET6, SOCK_STREAM, 0); }
static long sc_socket_alg(void) { return socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0); }
static long sc_socket_netlink_audit(void) { return socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */); }
static long sc_socketpair_inet(void) { int sv[2]; return socketpair(AF_INET, SOCK_STREAM, 0, sv); }
static long sc_process_vm_readv(void) { return syscall(SYS_process_vm_readv, 1, NULL, 0UL, NULL, 0UL, 0UL); }
static long sc_request_key(void) { return syscall(SYS_request_key, "user", "probe", NULL, 0); }
static long sc_finit_module(void) { return syscall(SYS_finit_module, -1, "", 0); }
static long sc_kexec_file_load(void) { return syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL); }
static long sc_swapon(void) { return syscall(SYS_swapon, "/nonexistent-probe", 0); }
static long sc_io_uring_enter(void) { return syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0); }
static long sc_personality_noaslr(void) { return syscall(SYS_personality, 0x0040000UL /* ADDR_NO_RANDOMIZE */); }
/* clone(2) with a namespace flag; allowed, the child exits at once. */
static long sc_clone_newuser(void) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0UL);
    if (r == 0) _exit(0);
    return r;
}
/* A system call through the 32-bit x86 ABI: another architecture to the filter. */
static long sc_int80_getpid(void) {
#if defined(__x86_64__)
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L /* __NR_getpid, i386 */) : "memory");
    if (r < 0) { errno = (int)-r; return -1; }
    return r;
#else
    errno = ENOSYS;
    return -1;
#endif
}

struct syscall_case {
    const char *name;
    long (*call)(void);
    bool denied_by_default; /* checked by `probe confinement` */
};

static const struct syscall_case syscalls[] = {
    {"getcwd", sc_getcwd, false},
    {"getpid", sc_getpid, false},
    {"personality", sc_personality, false},
    {"personality0", sc_personality0, false},
    {"mount", sc_mount, true},
    {"umount2", sc_umount2, true},
    {"pivot_root", sc_pivot_root, true},
    {"chroot", sc_chroot, true},
    {"unshare", sc_unshare, true},
    {"setns", sc_setns, true},
    {"ptrace", sc_ptrace, true},
    {"bpf", sc_bpf, true},
    {"keyctl", sc_keyctl, true},
    {"perf_event_open", sc_perf_event_open, true},
    {"open_by_handle_at", sc_open_by_handle_at, true},
    {"init_module", sc_init_module, true},
    {"kexec_load", sc_kexec_load, true},
    {"clone3", sc_clone3, false},
    {"fchmodat2", sc_fchmodat2, false},
    {"io_uring_setup", sc_io_uring_setup, false},
    {"io_setup", sc_io_setup, false},
    {"userfaultfd", sc_userfaultfd, false},
    {"add_key", sc_add_key, false},
    {"reboot", sc_reboot, false},
    {"socket_inet", sc_socket_inet, false},
    {"socket_unix", sc_socket_unix, false},
    {"socket_vsock", sc_socket_vsock, false},
    {"socket_netlink", sc_socket_netlink, false},
    {"socket_packet", sc_socket_packet, false},
    {"socket_inet6", sc_socket_inet6, false},
    {"socket_alg", sc_socket_alg, false},
    {"socket_netlink_audit", sc_socket_netlink_audit, false},
    {"socketpair_inet", sc_socketpair_inet, false},
    {"process_vm_readv", sc_process_vm_readv, false},
    {"request_key", sc_request_key, false},
    {"finit_module", sc_finit_module, false},
    {"kexec_file_load", sc_kexec_file_load, false},
    {"swapon", sc_swapon, false},
    {"io_uring_enter", sc_io_uring_enter, false},
    {"personality_noaslr", sc_personality_noaslr, false},
    {"clone_newuser", sc_clone_newuser, false},
    {"int80_getpid", sc_int80_getpid, false},
};

/* Outcome of one call: errno (0 = succeeded) or the signal that killed it. */
struct outcome {
    int err;
    int sig;
};

/* Runs c->call in a child so that a call the policy allows cannot change the
 * probe (unshare, ptrace) and a SECCOMP_RET_KILL is reported, not fatal. */
static struct outcome try_syscall(const struct syscall_case *c) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return (struct outcome){.err = -errno};
    if (pid == 0) {
        errno = 0;
        long r = c->call();
        _exit(r < 0 ? (errno & 0xff) : 0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(st)) return (struct outcome){.sig = WTERMSIG(st)};
    return (struct outcome){.err = WEXITSTATUS(st)};
}

static void format_outcome(struct outcome o, char *buf, size_t len) {
    if (o.sig) snprintf(buf, len, "killed=SIG%s", sigabbrev_np(o.sig));
    else if (o.err < 0) snprintf(buf, len, "fork-failed=%s", errname(-o.err));
    else if (o.err) snprintf(buf, len, "errno=%s", errname(o.err));
    else snprintf(buf, len, "ok");
}

static const struct syscall_case *find_syscall(const char *name) {
    for (size_t i = 0; i < ARRAY_LEN(syscalls); i++)
        if (strcmp(syscalls[i].name, name) == 0) return &syscalls[i];
    return NULL;
}

/* ---- confinement --------------------------------------------------------- */

static void check_identity(void) {
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    check(ru && eu && su, "uid_nonzero", "uids %d/%d/%d", ru, eu, su);
    check(rg && eg && sg, "gid_nonzero", "gids %d/%d/%d", rg, eg, sg);
    gid_t groups[64];
    int n = getgroups(ARRAY_LEN(groups), groups);
    bool root_group = false;
    for (int i = 0; i < n; i++) root_group |= groups[i] == 0;
    check(n >= 0 && !root_group, "no_root_group", "supplementary groups include 0 (n=%d)", n);
}

static void check_status(void) {
    static const char *const caps[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    char v[128], name[32];
    for (size_t i = 0; i < ARRAY_LEN(caps); i++) {
        snprintf(name, sizeof name, "caps_%s", caps[i] + 3);
        bool found = status_field(caps[i], v, sizeof v);
        check(found && strtoull(v, NULL, 16) == 0, name, "%s=%s", caps[i], found ? v : "missing");
    }
    bool found = status_field("NoNewPrivs", v, sizeof v);
    check(found && strcmp(v, "1") == 0, "no_new_privs", "NoNewPrivs=%s", found ? v : "missing");
    found = status_field("Seccomp", v, sizeof v);
    check(found && strcmp(v, "2") == 0, "seccomp_filter", "Seccomp=%s", found ? v : "missing");
}

static void check_pids(void) {
    pid_t pids[MAX_PIDS];
    int n = list_pids(pids, MAX_PIDS);
    char extra[256] = "";
    size_t used = 0;
    bool init = false;
    for (int i = 0; i < n; i++) {
        if (pids[i] == 1) init = true;
        else if (pids[i] != getpid() && used < sizeof extra - 12)
            used += (size_t)snprintf(extra + used, sizeof extra - used, " %d", (int)pids[i]);
    }
    check(n > 0 && init && used == 0, "pid_namespace", "visible pids besides 1 and self (%d):%s%s",
          (int)getpid(), extra, init ? "" : " (no pid 1)");
    check(getppid() == 1, "parent_is_init", "ppid=%d", (int)getppid());
    int fd = open("/proc/1/mem", O_RDONLY | O_CLOEXEC);
    check(fd < 0, "init_mem_unreadable", "opened /proc/1/mem");
    if (fd >= 0) close(fd);
}

static void check_network(int host_port) {
    FILE *f = fopen("/proc/net/dev", "re");
    char line[512], others[256] = "";
    size_t used = 0;
    bool lo = false;
    for (int i = 0; f && fgets(line, sizeof line, f); i++) {
        char *colon = strchr(line, ':');
        if (i < 2 || !colon) continue; /* two header lines */
        *colon = '\0';
        char *name = line + strspn(line, " ");
        if (strcmp(name, "lo") == 0) lo = true;
        else if (used < sizeof others - 20)
            used += (size_t)snprintf(others + used, sizeof others - used, " %s", name);
    }
    if (f) fclose(f);
    check(f && lo && used == 0, "net_only_lo", "%s; other interfaces:%s", f ? "" : "no /proc/net/dev", others);

    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int r = s < 0 ? -1 : ioctl(s, SIOCGIFFLAGS, &ifr);
    check(r == 0 && (ifr.ifr_flags & IFF_UP), "lo_up", "%s", r ? errname(errno) : "lo is down");
    if (s >= 0) close(s);

    if (host_port <= 0) return;
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)host_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    check(r < 0 && e == ECONNREFUSED, "host_port_unreachable", "connect 127.0.0.1:%d: %s", host_port,
          r == 0 ? "connected" : errname(e));
    if (s >= 0) close(s);
}

static void check_filesystem(void) {
    static const char *const ro[] = {"/", "/usr", "/etc", "/var/task", "/opt"};
    char path[128], name[64];
    for (size_t i = 0; i < ARRAY_LEN(ro); i++) {
        snprintf(path, sizeof path, "%s/.probe-rofs", strcmp(ro[i], "/") ? ro[i] : "");
        snprintf(name, sizeof name, "readonly_%s", strcmp(ro[i], "/") ? ro[i] + 1 : "root");
        for (char *c = name; *c; c++) if (*c == '/') *c = '_';
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        int e = errno;
        if (fd >= 0) { close(fd); unlink(path); }
        check(fd < 0 && e == EROFS, name, "create %s: %s", path, fd >= 0 ? "succeeded" : errname(e));
    }

    int fd = open("/tmp/.probe-rw", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    int e = errno;
    bool wrote = fd >= 0 && write(fd, "x", 1) == 1;
    if (fd >= 0) { close(fd); unlink("/tmp/.probe-rw"); }
    check(wrote, "tmp_writable", "/tmp: %s", errname(fd < 0 ? e : errno));

    struct stat st;
    DIR *d = opendir("/sys");
    int entries = 0;
    for (struct dirent *de; d && (de = readdir(d));) entries += de->d_name[0] != '.';
    if (d) closedir(d);
    check(entries == 0, "no_sys", "/sys has %d entries", entries);

    /* A minimal /dev: no block devices, only the harmless character devices. */
    static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "console"};
    char bad[256] = "";
    size_t used = 0;
    d = opendir("/dev");
    for (struct dirent *de; d && (de = readdir(d));) {
        char p[300];
        snprintf(p, sizeof p, "/dev/%s", de->d_name);
        if (lstat(p, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) continue;
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(devs); i++) known |= strcmp(devs[i], de->d_name) == 0;
        if ((!known || S_ISBLK(st.st_mode)) && used < sizeof bad - 40)
            used += (size_t)snprintf(bad + used, sizeof bad - used, " %s", de->d_name);
    }
    if (d) closedir(d);
    check(d && used == 0, "dev_minimal", "unexpected devices:%s", bad);
}

static void check_process(const char *hostname) {
    struct rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    check(rl.rlim_cur == 0 && rl.rlim_max == 0, "core_rlimit_zero", "core %llu/%llu",
          (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);

    if (hostname) {
        struct utsname u;
        uname(&u);
        check(strcmp(u.nodename, hostname) == 0, "hostname", "'%s', want '%s'", u.nodename, hostname);
    }

    /* Only stdio may be inherited: a leaked fd is a way out. */
    char leaked[256] = "";
    size_t used = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *de; d && (de = readdir(d));) {
        int fd = atoi(de->d_name);
        if (!isdigit((unsigned char)de->d_name[0]) || fd <= 2 || fd == dirfd(d)) continue;
        char target[128] = "", p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, target, sizeof target - 1);
        if (n > 0) target[n] = '\0';
        if (used < sizeof leaked - 40)
            used += (size_t)snprintf(leaked + used, sizeof leaked - used, " %d=%.24s", fd, target);
    }
    if (d) closedir(d);
    check(d && used == 0, "no_leaked_fds", "%s", d ? leaked : "no /proc/self/fd");
}

static void check_denied_syscalls(int want) {
    char name[64], got[64];
    for (size_t i = 0; i < ARRAY_LEN(syscalls); i++) {
        if (!syscalls[i].denied_by_default) continue;
        struct outcome o = try_syscall(&syscalls[i]);
        snprintf(name, sizeof name, "deny_%s", syscalls[i].name);
        format_outcome(o, got, sizeof got);
        check(!o.sig && o.err == want, name, "%s, want errno=%s", got, errname(want));
    }
}

static int cmd_confinement(int argc, char **argv) {
    int host_port = 0, want = EPERM;
    const char *hostname = NULL;
    for (int i = 0; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--host-port") == 0 && has_value) host_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hostname") == 0 && has_value) hostname = argv[++i];
        else if (strcmp(argv[i], "--expect-errno") == 0 && has_value) want = parse_errno(argv[++i]);
        else { fprintf(stderr, "probe confinement: bad argument '%s'\n", argv[i]); return 2; }
    }
    if (want <= 0) { fprintf(stderr, "probe confinement: bad --expect-errno\n"); return 2; }
    check_identity();
    check_status();
    check_pids();
    check_network(host_port);
    check_filesystem();
    check_process(hostname);
    check_denied_syscalls(want);
    return failures ? 1 : 0;
}

/* ---- resource limits ------------------------------------------------------ */

static int cmd_tmpfill(void) {
    signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE: get EFBIG, not a signal */
    static char chunk[1 << 20];
    memset(chunk, 'w', sizeof chunk);
    int fd = open("/tmp/fill", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { check(false, "tmp_limited", "open /tmp/fill: %s", errname(errno)); return 1; }
    long long total = 0;
    int e = 0;
    for (;;) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { e = errno; break; }
        total += n;
        if (n < (ssize_t)sizeof chunk) { /* short write: the next one says why */
            n = write(fd, chunk, sizeof chunk);
            e = n < 0 ? errno : 0;
            if (n > 0) { total += n; continue; }
            break;
        }
    }
    close(fd);
    unlink("/tmp/fill");
    printf("tmp_written_mb %lld\n", total / MiB);
    check(e == ENOSPC || e == EFBIG, "tmp_limited", "stopped with %s", errname(e));
    return failures ? 1 : 0;
}

/* Queues up to `mb` MiB in loopback TCP connections that are never read (the other end
 * accepted, idle), with socket buffers as large as allowed: kernel memory outside the
 * process's pages, which the instance's memory cgroup must bound as well. */
static int cmd_sockfill(long mb) {
    static char chunk[1 << 16];
    memset(chunk, 's', sizeof chunk);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 64) < 0
        || getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
        check(false, "sock_listen", "%s", errname(errno));
        return 1;
    }
    long long queued = 0;
    int pairs = 0, big = 64 << 20;
    while (queued < (long long)mb * MiB && pairs < 480) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) break;
        int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (a < 0) break;
        setsockopt(c, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(a, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        long long before = queued;
        for (;;) {
            ssize_t n = send(c, chunk, sizeof chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0) break;
            queued += n;
        }
        pairs++;
        if (queued - before < (long long)sizeof chunk) break; /* nothing more is taken */
    }
    printf("sock_queued_mb %lld pairs %d\n", queued / MiB, pairs);
    return 0;
}

static int cmd_oom(long mb) {
    long page = sysconf(_SC_PAGESIZE);
    char *mem = malloc((size_t)mb * MiB);
    if (!mem) { check(false, "oom_alloc", "malloc %ld MiB: %s", mb, errname(errno)); return 1; }
    for (long i = 0; i < mb; i++) {
        for (long off = 0; off < MiB; off += page) memset(mem + i * MiB + off, 1, (size_t)page);
        if ((i + 1) % 16 == 0) printf("touched_mb %ld\n", i + 1);
    }
    printf("allocated_mb %ld\n", mb);
    free(mem);
    return 0;
}

static int cmd_forkbomb(void) {
    enum { SAFETY = 16384 }; /* stop short of harming an unconfined host */
    static pid_t children[SAFETY];
    int n = 0, e = 0;
    fflush(NULL);
    while (n < SAFETY) {
        pid_t pid = fork();
        if (pid < 0) { e = errno; break; }
        if (pid == 0) for (;;) pause();
        children[n++] = pid;
    }
    printf("forks %d\nerrno %s\n", n, errname(e));
    if (n == SAFETY) { /* not limited: clean up ourselves */
        for (int i = 0; i < n; i++) kill(children[i], SIGKILL);
        check(false, "forks_limited", "%d forks succeeded", n);
        return 1;
    }
    return 0; /* the children stay; killing the instance must take them all */
}

/* ---- processes -------------------------------------------------------------- */

static int cmd_zombies(void) {
    fflush(NULL);
    for (int i = 0; i < 5; i++) /* our own unreaped children: stay zombies */
        if (fork() == 0) _exit(0);
    for (int i = 0; i < 5; i++) { /* orphans: reparented to pid 1, which must reap */
        pid_t mid = fork();
        if (mid == 0) {
            if (fork() == 0) { usleep(50 * 1000); _exit(0); }
            _exit(0);
        }
        if (mid > 0) waitpid(mid, NULL, 0);
    }
    usleep(200 * 1000);
    pid_t pids[MAX_PIDS];
    int n = list_pids(pids, MAX_PIDS), own = 0, orphans = 0;
    for (int i = 0; i < n; i++) {
        char state;
        pid_t ppid;
        if (!proc_stat(pids[i], &state, &ppid) || state != 'Z') continue;
        if (ppid == getpid()) own++;
        else orphans++;
    }
    printf("own_zombies %d\nzombies %d\n", own, orphans);
    check(own == 5, "zombie_count_works", "saw %d of our 5 unreaped children", own);
    check(orphans == 0, "orphans_reaped", "%d orphan zombies", orphans);
    return failures ? 1 : 0;
}

static int cmd_ps(void) {
    pid_t pids[MAX_PIDS];
    int n = list_pids(pids, MAX_PIDS);
    if (n < 0) { perror("probe ps: /proc"); return 1; }
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)pids[i]);
    putchar('\n');
    return 0;
}

static int cmd_signal(const char *s) {
    int sig = parse_signal(s);
    if (sig <= 0) { fprintf(stderr, "probe signal: unknown signal '%s'\n", s); return 2; }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(sig, SIG_DFL);
    fflush(NULL);
    raise(sig);
    check(false, "signal", "still alive after SIG%s", sigabbrev_np(sig));
    return 1;
}

static int cmd_sleep(const char *s) {
    double secs = strtod(s, NULL);
    struct timespec ts = {.tv_sec = (time_t)secs, .tv_nsec = (long)((secs - (time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    return 0;
}

static int cmd_tmpfile(const char *name, bool write_it) {
    if (!valid_name(name)) { fprintf(stderr, "probe: bad file name '%s'\n", name); return 2; }
    char path[256];
    snprintf(path, sizeof path, "/tmp/%s", name);
    if (!write_it) {
        bool exists = access(path, F_OK) == 0;
        printf("%s %s\n", path, exists ? "exists" : "absent");
        return exists ? 0 : 1;
    }
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, "warren-probe\n", 13) == 13;
    int e = errno;
    if (fd >= 0) close(fd);
    check(ok, "tmpwrite", "%s: %s", path, errname(e));
    return failures ? 1 : 0;
}

static int cmd_syscall(int argc, char **argv) {
    char got[64];
    for (int i = 0; i < argc; i++) {
        const struct syscall_case *c = find_syscall(argv[i]);
        if (!c) { fprintf(stderr, "probe syscall: unknown '%s'\n", argv[i]); return 2; }
        format_outcome(try_syscall(c), got, sizeof got);
        printf("%s %s\n", c->name, got);
    }
    return 0;
}

static int cmd_env(void) {
    extern char **environ;
    for (char **e = environ; *e; e++) puts(*e);
    return 0;
}

/* The scheduling policy this process runs under, as the kernel reports it. */
static int cmd_sched(void) {
    int policy = (int)syscall(SYS_sched_getscheduler, 0);
    const char *name = policy == SCHED_OTHER ? "other" : policy == SCHED_BATCH ? "batch"
        : policy == SCHED_IDLE ? "idle" : policy < 0 ? errname(errno) : "realtime";
    printf("sched=%s\n", name);
    return policy < 0;
}

/* Events on an inotify descriptor within `ms` milliseconds. */
static int inotify_events(int fd, int ms) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int events = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = ms - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0) return events;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)left) <= 0) continue;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(fd, buf, sizeof buf);
        for (char *e = buf; n > 0 && e < buf + n; e += sizeof(struct inotify_event) + ((struct inotify_event *)e)->len)
            events++;
    }
}

/* Watches DIR for opens and reads: prints "ready", then "seen N" for the events of the next MS
 * milliseconds (another sandbox's accesses, if it could see them), then "own N" for its own
 * read of a file there (the control: inotify works here). */
static int cmd_inotify(const char *dir, int ms) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, dir, IN_OPEN | IN_ACCESS) < 0) {
        printf("inotify=%s\n", errname(errno));
        return 1;
    }
    puts("ready");
    printf("seen %d\n", inotify_events(fd, ms));
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096], byte;
    while (d && (e = readdir(d))) {
        if (e->d_type != DT_REG) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f >= 0 && read(f, &byte, 1) >= 0) { close(f); break; }
        if (f >= 0) close(f);
    }
    if (d) closedir(d);
    printf("own %d\n", inotify_events(fd, 300));
    return 0;
}

static int usage(void) {
    fputs("usage: probe confinement [--host-port N] [--hostname X] [--expect-errno E]\n"
          "       probe tmpfill | oom MB | sockfill MB | forkbomb | sleep S | exit N | signal SIG\n"
          "       probe tmpwrite NAME | tmpread NAME | ps | zombies | env | sched | inotify DIR MS\n"
          "       probe syscall NAME...\n",
          stderr);
    return 2;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines survive an OOM kill or a SIGKILL */
    if (argc < 2) return usage();
    const char *cmd = argv[1], *arg = argc > 2 ? argv[2] : NULL;
#define IS(name) (strcmp(cmd, name) == 0)
    if (IS("confinement")) return cmd_confinement(argc - 2, argv + 2);
    if (IS("tmpfill")) return cmd_tmpfill();
    if (IS("forkbomb")) return cmd_forkbomb();
    if (IS("zombies")) return cmd_zombies();
    if (IS("ps")) return cmd_ps();
    if (IS("env")) return cmd_env();
    if (IS("sched")) return cmd_sched();
    if (IS("syscall")) return cmd_syscall(argc - 2, argv + 2);
    if (!arg) return usage();
    if (IS("oom")) return cmd_oom(atol(arg));
    if (IS("sockfill")) return cmd_sockfill(atol(arg));
    if (IS("sleep")) return cmd_sleep(arg);
    if (IS("exit")) { fflush(NULL); _exit(atoi(arg) & 0xff); }
    if (IS("signal")) return cmd_signal(arg);
    if (IS("tmpwrite")) return cmd_tmpfile(arg, true);
    if (IS("tmpread")) return cmd_tmpfile(arg, false);
    if (IS("inotify") && argc > 3) return cmd_inotify(arg, atoi(argv[3]));
#undef IS
    return usage();
}
