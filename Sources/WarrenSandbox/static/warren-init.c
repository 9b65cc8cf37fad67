/*
 * warren-init: pid 1 of every Warren sandbox.
 *
 * Built static (the rootfs need not have a libc) and run by execveat() on a
 * descriptor opened before pivot_root. It
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
 * usage: warren-init ERR_FD STATUS_FD BPF_FD BPF_FLAGS -- PATH ARGV0 [ARG...]
 * (fd -1: absent; BPF_FLAGS: seccomp(2)'s SECCOMP_FILTER_FLAG_* bits). Errors before the payload's execve are reported as a
 * struct wrn_err_record on ERR_FD, like every earlier step.
 */
#define _GNU_SOURCE
#include "wrn_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BPF_INSNS 4096 /* BPF_MAXINSNS */

static struct sock_filter bpf[MAX_BPF_INSNS];

static void __attribute__((noreturn)) fail(int fd, int32_t step, int32_t err)
{
    struct wrn_err_record rec = { step, err, -1 };
    if (fd >= 0) {
        ssize_t n = write(fd, &rec, sizeof rec);
        (void)n;
    }
    _exit(127);
}

static int parse_num(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < -1 || v > 1 << 20)
        return -2;
    return (int)v;
}

/* Reads the compiled filter; returns the number of instructions. */
static long read_bpf(int fd, int err_fd)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = pread(fd, (char *)bpf + got, sizeof bpf - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(err_fd, WRN_STEP_SECCOMP, errno);
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == sizeof bpf)
            break;
    }
    if (got == 0 || got % sizeof bpf[0] != 0)
        fail(err_fd, WRN_STEP_SECCOMP, EINVAL);
    close(fd);
    return (long)(got / sizeof bpf[0]);
}

/* execvp without its allocations: PATH from the payload's environment. */
static void exec_path(const char *path, char *const argv[], char *const envp[])
{
    if (strchr(path, '/')) {
        execve(path, argv, envp);
        return;
    }
    const char *p = NULL;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            p = *e + 5;
    if (!p)
        p = "/usr/local/bin:/usr/bin:/bin";
    int saved = ENOENT;
    size_t plen = strlen(path);
    while (*p) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        char buf[4096];
        if (dlen + plen + 2 <= sizeof buf) {
            memcpy(buf, p, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, path, plen + 1);
            execve(buf, argv, envp);
            if (errno != ENOENT && errno != ENOTDIR)
                saved = errno;
        }
        p = *end ? end + 1 : end;
    }
    errno = saved;
}

static void __attribute__((noreturn))
run_payload(int err_fd, long insns, unsigned flags, char *const argv[], char *const envp[])
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The err pipe closes on a successful execve: EOF tells the parent. */
    if (err_fd >= 0 && fcntl(err_fd, F_SETFD, FD_CLOEXEC) < 0)
        fail(err_fd, WRN_STEP_EXEC, errno);
    if (insns > 0) {
        struct sock_fprog prog = { (unsigned short)insns, bpf };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0)
            fail(err_fd, WRN_STEP_SECCOMP, errno);
    }
    exec_path(argv[0], argv + 1, envp);
    fail(err_fd, WRN_STEP_EXEC, errno);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

int main(int argc, char **argv, char **envp)
{
    if (argc < 8 || strcmp(argv[5], "--") != 0)
        return 127;
    int err_fd = parse_num(argv[1]), status_fd = parse_num(argv[2]), bpf_fd = parse_num(argv[3]);
    int flags = parse_num(argv[4]);
    if (err_fd < -1 || status_fd < -1 || bpf_fd < -1 || flags < 0)
        return 127;

    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    setsid();
    long insns = bpf_fd >= 0 ? read_bpf(bpf_fd, err_fd) : 0;

    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);

    pid_t child = fork();
    if (child < 0)
        fail(err_fd, WRN_STEP_INIT_FORK, errno);
    if (child == 0) {
        if (status_fd >= 0)
            close(status_fd);
        run_payload(err_fd, insns, (unsigned)flags, argv + 6, envp);
    }
    if (err_fd >= 0)
        close(err_fd);

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT ||
                sig == SIGUSR1 || sig == SIGUSR2)
                kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != child)
                continue;
            if (status_fd >= 0) {
                struct wrn_status_record rec = { WRN_STATUS_MAGIC, status };
                ssize_t n = write(status_fd, &rec, sizeof rec);
                (void)n;
            }
            /* Our exit ends the pid namespace: the kernel kills the rest. */
            _exit(exit_code(status));
        }
    }
}
