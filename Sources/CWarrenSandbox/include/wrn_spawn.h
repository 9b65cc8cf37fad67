/*
 * wrn_spawn.h: the contract between Warren's Swift parent and the C code
 * that runs between clone() and execve().
 *
 * Why this shim exists: the child of clone() shares the parent's memory
 * (CLONE_VM) and the parent is a multi-threaded Swift process, so nothing
 * there may allocate, lock or call into Swift. The parent prepares every
 * string, path, fd and the compiled seccomp program in one `wrn_spawn_req`;
 * the child only walks it, step by step, with raw syscalls.
 *
 *   parent (Swift thread)                  child (pid 1 in new namespaces)
 *   ---------------------                  -------------------------------
 *   build wrn_spawn_req
 *   clone(CLONE_VM|CLONE_NEW*) ----------> wait on sync pipe
 *   write pid to cgroup.procs
 *   write 1 byte to sync pipe -----------> mounts, pivot_root, loopback,
 *   read err pipe (blocks)                 hostname, rlimits, creds, caps,
 *                                          NNP, pdeathsig, fds
 *                                          execveat(warren-init)
 *                                            init: fork; child: seccomp,
 *                                            execve(payload)
 *   EOF on err pipe  <-------------------- (every write end closed on exec)
 *     => success
 *   {step, errno, index} <--------------- any failing step, then _exit(127)
 *     => SpawnError naming the step
 */
#ifndef WRN_SPAWN_H
#define WRN_SPAWN_H

/* Only <stdint.h>: warren-init includes this header with the kernel's
 * uapi headers and no libc. */
#include <stdint.h>

/* Steps. Ids start at 0x40 so that stray bytes cannot pass for a step. The
 * Swift enum SpawnStep mirrors this list; a test keeps the two in step. */
enum wrn_step {
    WRN_STEP_CLONE = 0x40,        /* parent: clone() */
    WRN_STEP_CGROUP = 0x41,       /* parent: write pid to cgroup.procs (index = file) */
    WRN_STEP_SYNC = 0x42,         /* child: wait for the parent's go */
    WRN_STEP_SIGNALS = 0x43,      /* child: reset signal dispositions */
    WRN_STEP_MOUNT_PRIVATE = 0x44,/* mount --make-rprivate / */
    WRN_STEP_BIND_ROOT = 0x45,    /* mount the rootfs (an overlay of it, or a bind) onto itself */
    WRN_STEP_MOUNT = 0x46,        /* one entry of the mount plan (index) */
    WRN_STEP_REMOUNT_ROOT = 0x47, /* rootfs read-only */
    WRN_STEP_PIVOT_ROOT = 0x48,
    WRN_STEP_LOOPBACK = 0x49,
    WRN_STEP_HOSTNAME = 0x4a,
    WRN_STEP_RLIMIT = 0x4b,       /* index = entry */
    WRN_STEP_CAPBSET = 0x4c,      /* drop the bounding set (needs CAP_SETPCAP: before setuid) */
    WRN_STEP_SETGROUPS = 0x4d,
    WRN_STEP_SETGID = 0x4e,
    WRN_STEP_SETUID = 0x4f,
    WRN_STEP_CAPSET = 0x50,       /* clear effective, permitted, inheritable */
    WRN_STEP_AMBIENT = 0x51,
    WRN_STEP_NO_NEW_PRIVS = 0x52,
    WRN_STEP_PDEATHSIG = 0x53,    /* after setuid: credential changes clear it */
    WRN_STEP_FDS = 0x54,          /* stdio and passed fds */
    WRN_STEP_CHDIR = 0x55,
    WRN_STEP_EXEC_INIT = 0x56,    /* execveat(warren-init) */
    WRN_STEP_INIT_FORK = 0x57,    /* init: fork the payload */
    WRN_STEP_SECCOMP = 0x58,      /* payload: load the filter, last */
    WRN_STEP_EXEC = 0x59,         /* payload: execve */
    WRN_STEP_NETNS = 0x5a,        /* setns() into a prepared network namespace */
    WRN_STEP_CGROUPNS = 0x5b,     /* unshare(CLONE_NEWCGROUP), once inside the cgroup */
    WRN_STEP_SCHED = 0x5c,        /* sched_setscheduler(SCHED_BATCH) */
};

/* One record on the error pipe. Writes of at most PIPE_BUF bytes are
 * atomic, so a reader sees a whole record or none. `index` names the mount,
 * rlimit or cgroup entry that failed, -1 otherwise. */
struct wrn_err_record {
    int32_t step;
    int32_t err;
    int32_t index;
};

/* Exit status record that warren-init writes to its status fd when the
 * payload ends: the raw wait status of the payload. */
struct wrn_status_record {
    int32_t magic; /* WRN_STATUS_MAGIC */
    int32_t status;
};
#define WRN_STATUS_MAGIC 0x57524e31 /* "WRN1" */

enum wrn_mount_kind {
    WRN_MOUNT_BIND = 1,     /* bind source onto target (recursive) */
    WRN_MOUNT_TMPFS = 2,    /* tmpfs at target with data ("size=…,mode=…") */
    WRN_MOUNT_PROC = 3,     /* fresh proc at target */
    WRN_MOUNT_FILE = 4,     /* create an empty regular file at target (bind target for a device) */
    WRN_MOUNT_SYMLINK = 5,  /* symlink target -> source */
    WRN_MOUNT_REMOUNT = 6,  /* remount target with flags (bind remount when WRN_MOUNT_F_BIND) */
    WRN_MOUNT_MKNOD = 7,    /* character device 0666 at target, dev = makedev(flags >> 20, flags & 0xfffff) */
    WRN_MOUNT_OVERLAY = 8,  /* overlay at target with flags and data ("lowerdir=…"); where the kernel
                               refuses it, a bind of source remounted with flags */
};

#define WRN_MOUNT_F_BIND 1u

/* One entry of the mount plan. Paths are host paths as seen before
 * pivot_root (target = rootfs + path inside the sandbox); the parent builds
 * them all. */
struct wrn_mount {
    int32_t kind;
    uint32_t options;       /* WRN_MOUNT_F_* */
    const char *source;
    const char *target;
    const char *data;
    unsigned long flags;    /* MS_* */
};

struct wrn_rlimit {
    int32_t resource;
    uint64_t soft;
    uint64_t hard;
};

struct wrn_spawn_req {
    /* 1. namespaces: CLONE_NEW* flags; CLONE_NEWNET is dropped when
     *    netns_fd >= 0, and CLONE_NEWCGROUP is done by unshare() after the
     *    child joined its cgroup, so that the namespace is rooted there. */
    int clone_flags;
    int netns_fd;

    /* 2. cgroup: the parent writes the child's pid into each of these
     *    (cgroup.procs of every hierarchy) before letting the child go. */
    const int *cgroup_procs_fds;
    int n_cgroup_procs;

    /* 3. root filesystem */
    const char *rootfs;             /* host path */
    /* "lowerdir=ROOTFS:EMPTY": the root is an overlay of the rootfs of this
     * sandbox's own (read-only, no upper layer), not a bind of the shared
     * directory, so that no inotify watch inside sees another sandbox's
     * accesses. NULL, or an overlay the kernel refuses: a bind. */
    const char *rootfs_overlay;
    const struct wrn_mount *mounts;
    int n_mounts;
    int rootfs_readonly;

    /* 4. network */
    int loopback_up;

    /* 5. identity and limits */
    const char *hostname;           /* NULL: leave */
    int sched_batch;                /* SCHED_BATCH: its wake-ups never preempt the running task */
    const struct wrn_rlimit *rlimits;
    int n_rlimits;
    uint32_t uid;
    uint32_t gid;

    /* 6. capabilities: every cap in 0..last_cap is dropped */
    int last_cap;
    int no_new_privs;

    /* stdio of the payload (-1: /dev/null was not asked for; leave inherited) */
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /* fds that stay open across exec (err/status/bpf for init, listeners…) */
    const int *pass_fds;
    int n_pass_fds;

    const char *cwd;                /* inside the sandbox, after pivot_root */

    /* 7. warren-init, opened O_PATH in the parent, run with execveat(). Its
     *    argv carries the fd numbers of the err pipe, status pipe and bpf. */
    int init_fd;
    char *const *init_argv;
    char *const *envp;
    int err_read_fd;                /* read end of the err pipe (O_CLOEXEC) */
    int err_fd;                     /* write end; inherited by init, closed in the parent */
};

struct wrn_spawn_result {
    int32_t pid;
    int pidfd;
    struct wrn_err_record err;     /* step == 0 on success */
};

/* Spawns pid 1 of a new sandbox and waits until the payload has exec'd or a
 * step failed. Returns 0 on success; -1 with result->err filled otherwise
 * (the child is reaped and nothing is left). Call from a long-lived thread:
 * PR_SET_PDEATHSIG fires when the thread that cloned exits. */
int wrn_spawn(const struct wrn_spawn_req *req, struct wrn_spawn_result *result);

/* The CLONE_NEW* flags of every sandbox (pid, mount, uts, ipc, net,
 * cgroup): Swift's Glibc module hides them behind _GNU_SOURCE. */
int wrn_sandbox_namespaces(void);

/* open(path, O_PATH | O_CLOEXEC), for the same reason. */
int wrn_open_path(const char *path);

/* The birth time of the open file `fd` (statx STATX_BTIME) in nanoseconds since the epoch; 0
 * where the file system keeps none or statx fails. Not for use between clone and execve. */
long long wrn_file_birth_ns(int fd);

/* pipe2(fds, O_CLOEXEC). */
int wrn_pipe_cloexec(int fds[2]);

/* posix_spawn(path, argv) with `stdin_fd` as the child's fd 0, its 1 and 2 inherited and every
 * other descriptor closed (glibc's addclosefrom_np). 0 with *pid set, or an errno value. */
int wrn_spawn_with_stdin(const char *path, char *const argv[], int stdin_fd, int *pid);

/* pidfd_send_signal(pidfd, sig, NULL, 0). */
int wrn_pidfd_signal(int pidfd, int sig);

/* pidfd_open(pid, 0), close-on-exec (as every pidfd is): a pidfd, or -1 with errno set. */
int wrn_pidfd_open(int pid);

/* ptrace(request, pid, addr, data), which glibc declares variadic (Swift cannot call it):
 * the audit tracer of `warren policy test` and `learn`. */
long wrn_ptrace(long request, int pid, unsigned long addr, unsigned long data);

/* At a PTRACE_EVENT_SECCOMP stop of `pid`: skip the call, which then returns `value` (a
 * negative errno). 0, -1 with errno, or -1 with ENOSYS where the architecture is not handled. */
int wrn_ptrace_skip_call(int pid, long value);

/* waitid(P_ALL, 0, WEXITED | WSTOPPED | __WALL | WNOWAIT): which child or tracee has
 * something to report, without collecting it. 0 with *pid and *code (CLD_*) set, or -1. */
int wrn_wait_peek(int *pid, int *code);

/* Blocks `signals` in the calling thread and returns a signalfd for them
 * (close-on-exec, non-blocking). */
int wrn_signalfd(const int *signals, int n);

/* Reads one signal from a signalfd: its number, 0 if none is pending. */
int wrn_signalfd_read(int fd);

/* memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING): the seccomp program's
 * carrier into the sandbox (the child clears close-on-exec on it). */
int wrn_memfd(const char *name);

/* Creates a network namespace with `lo` up and returns a descriptor of it
 * (close-on-exec), leaving the calling thread in its own namespace. Off
 * the critical path: a new netns costs ~600 us of latency. When `port` is
 * not 0, also creates a TCP socket listening on 127.0.0.1:port *inside*
 * that namespace (the Runtime API listener) and stores it in `*listener`.
 * Run it on a dedicated thread; on failure returns -1 with errno set, and
 * if the thread could not go back it aborts (it would be stuck in the
 * wrong namespace). */
int wrn_netns_create(uint16_t port, int *listener);

/* Name of a step ("pivot_root"), for messages. */
const char *wrn_step_name(int32_t step);

#endif
