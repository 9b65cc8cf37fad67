/*
 * relay: a minimal HTTP/1.1 relay for the AWS Lambda Runtime API, the
 * benchmark's lower-bound peer. It models the least work any server that is
 * compatible with the Runtime API must do per invoke: take a client's request,
 * hand it to a runtime process parked on GET /2018-06-01/runtime/invocation/next,
 * take the runtime's POST …/invocation/{id}/response (or /error), answer the
 * client 200 with that body and the runtime 202. Nothing else: no sandbox, no
 * auth, no JSON, no parsing beyond HTTP framing (request line, Content-Length).
 *
 *   relay RUNTIME_BINARY N THREADS
 *
 * forks N copies of RUNTIME_BINARY (AWS_LAMBDA_RUNTIME_API points at the relay)
 * and, once all N are parked on /next, prints "listening on http://127.0.0.1:P".
 * THREADS event loops each own an epoll, a share of the runtimes and of the
 * clients, and pair only their own: no locks on the hot path. The main thread
 * only accepts and deals connections out round-robin (runtimes at start-up,
 * clients as they connect), not SO_REUSEPORT, whose hashing can leave a thread
 * with more clients than runtimes, or none. SIGTERM/SIGINT: kill the runtimes,
 * reap them, exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF (64 * 1024) /* per-connection input buffer: the largest message */
#define ACK_BODY "{\"status\":\"OK\"}\n"
_Static_assert(sizeof ACK_BODY - 1 == 16, "202 body length");
static const char ack[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                          "Content-Length: 16\r\n\r\n" ACK_BODY;
static const char too_large[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char gone[] = "{\"message\":\"the runtime closed its connection\"}";

enum { CLIENT, RUNTIME };
struct conn {
    int fd, kind, dead;
    int waiting;               /* client: queued for a runtime; runtime: parked on /next */
    int started;               /* runtime: has parked once (start-up count) */
    struct worker *w;
    struct conn *peer;         /* the other end while a request is in flight */
    struct conn *next;         /* link: wait queue, idle stack or graveyard */
    char *out;                 /* bytes the socket has not taken yet */
    size_t outlen, outcap, inlen;
    char in[BUF];
};
struct worker {
    int ep, live;              /* live: runtimes that parked once and have not closed */
    unsigned long long seq;    /* request ids: thread index, then += THREADS */
    struct conn *qhead, *qtail; /* clients waiting for a runtime, FIFO */
    struct conn *idle;         /* runtimes parked on /next, LIFO (warmest first) */
    struct conn *dead;         /* closed during this epoll batch, freed after it */
};

static int nthreads, nruntimes, ready_pipe[2];
static atomic_int parked_once;
static pid_t *pids;

static void set_events(struct conn *c, unsigned ev)
{
    struct epoll_event e = { .events = ev, .data.ptr = c };
    epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Sends one message (head + body) with one writev; buffers what the socket does
   not take. On a hard error it shuts the socket down, so the event loop sees the
   hang-up and closes it there: callers never see a connection vanish under them. */
static void send_msg(struct conn *c, const char *h, size_t hn, const char *b, size_t bn)
{
    size_t done = 0, was = c->outlen;
    if (c->dead) return;
    if (!was) {
        struct iovec iov[2] = { { (void *)h, hn }, { (void *)b, bn } };
        ssize_t w = writev(c->fd, iov, bn ? 2 : 1);
        if (w < 0 && errno != EAGAIN && errno != EINTR) { shutdown(c->fd, SHUT_RDWR); return; }
        done = w < 0 ? 0 : (size_t)w;
        if (done == hn + bn) return;
    }
    if (c->outlen + hn + bn - done > c->outcap) {
        c->outcap = 2 * (c->outlen + hn + bn);
        if (!(c->out = realloc(c->out, c->outcap))) abort();
    }
    if (done < hn) memcpy(c->out + c->outlen, h + done, hn - done), c->outlen += hn - done, done = hn;
    memcpy(c->out + c->outlen, b + (done - hn), bn - (done - hn));
    c->outlen += bn - (done - hn);
    if (!was) set_events(c, EPOLLIN | EPOLLOUT);
}

static void flush_out(struct conn *c)
{
    ssize_t w = write(c->fd, c->out, c->outlen);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        shutdown(c->fd, SHUT_RDWR);
        w = (ssize_t)c->outlen;
    }
    memmove(c->out, c->out + w, c->outlen - (size_t)w);
    c->outlen -= (size_t)w;
    if (!c->outlen) set_events(c, EPOLLIN);
}

/* Framing of the message at the start of p[0..n): header length in *head,
   returns its Content-Length; -1 if the header is incomplete, -2 if malformed. */
static long framing(const char *p, size_t n, size_t *head)
{
    const char *e = memmem(p, n, "\r\n\r\n", 4), *l = p;
    long len = 0;
    if (!e) return -1;
    *head = (size_t)(e + 4 - p);
    while ((l = memchr(l, '\n', (size_t)(e - l))))
        if (!strncasecmp(++l, "Content-Length:", 15)) len = strtol(l + 15, NULL, 10);
    return len < 0 ? -2 : len;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->inlen - n);
    c->inlen -= n;
}

static void unlink_conn(struct conn **head, struct conn **tail, struct conn *c)
{
    struct conn *prev = NULL;
    struct conn **pp = head;
    while (*pp && *pp != c) prev = *pp, pp = &(*pp)->next;
    if (*pp) *pp = c->next;
    if (tail && *tail == c) *tail = prev;
}

/* Hands the client's complete request (header length hl, body bl) to a parked runtime. */
static void pair(struct conn *cl, struct conn *rt, size_t hl, size_t bl)
{
    struct timespec now;
    char h[512];
    clock_gettime(CLOCK_REALTIME, &now);
    long long deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + 3000;
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Lambda-Runtime-Aws-Request-Id: 00000000-0000-4000-8000-%012llx\r\n"
                     "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                     "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:echo\r\n"
                     "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\r\n",
                     bl, cl->w->seq, deadline);
    cl->w->seq += (unsigned)nthreads;
    cl->peer = rt;
    rt->peer = cl;
    rt->waiting = 0;
    send_msg(rt, h, (size_t)n, cl->in + hl, bl);
    consume(cl, hl + bl);
}

static void client_input(struct conn *c);

/* Answers a client whose request was in flight, then looks at its next request. */
static void reply(struct conn *cl, const char *status, const char *extra, const char *body, size_t n)
{
    char h[256];
    int hn = snprintf(h, sizeof h,
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "X-Amz-Executed-Version: $LATEST\r\n%s\r\n", status, n, extra);
    send_msg(cl, h, (size_t)hn, body, n);
    client_input(cl);
}

/* A runtime lost its request (closed, or asked for /next again): the client gets a 502. */
static void fail_peer(struct conn *rt)
{
    struct conn *cl = rt->peer;
    if (!cl) return;
    rt->peer = cl->peer = NULL;
    reply(cl, "502 Bad Gateway", "", gone, sizeof gone - 1);
}

static void drop(struct conn *c)
{
    struct worker *w = c->w;
    if (c->dead) return;
    c->dead = 1;
    close(c->fd);
    if (c->waiting && c->kind == CLIENT) unlink_conn(&w->qhead, &w->qtail, c);
    if (c->waiting && c->kind == RUNTIME) unlink_conn(&w->idle, NULL, c);
    if (c->kind == RUNTIME) {
        w->live -= c->started;
        fail_peer(c);
        if (!w->live) /* this thread's last runtime: fail the queue (client_input answers 503) */
            for (struct conn *q; (q = w->qhead); client_input(q)) w->qhead = q->next, w->qtail = NULL, q->waiting = 0;
    } else if (c->peer) c->peer->peer = NULL; /* the runtime's answer will be dropped */
    c->next = w->dead;
    w->dead = c;
}

static void client_input(struct conn *c)
{
    struct worker *w = c->w;
    size_t hl;
    if (c->dead || c->peer || c->waiting) return; /* one request at a time */
    long bl = framing(c->in, c->inlen, &hl);
    if (bl == -1 && c->inlen < BUF) return;
    if (bl < 0 || hl + (size_t)bl > BUF) {
        send_msg(c, too_large, sizeof too_large - 1, "", 0);
        drop(c);
        return;
    }
    if (c->inlen < hl + (size_t)bl) return;
    struct conn *rt = w->idle;
    if (rt) {
        w->idle = rt->next;
        pair(c, rt, hl, (size_t)bl);
    } else if (!w->live) { /* every runtime of this thread has closed: fail fast, don't hang */
        consume(c, hl + (size_t)bl);
        reply(c, "503 Service Unavailable", "", gone, sizeof gone - 1);
    } else { /* no runtime free: queue, FIFO */
        c->waiting = 1;
        c->next = NULL;
        *(w->qtail ? &w->qtail->next : &w->qhead) = c;
        w->qtail = c;
    }
}

static int ends_with(const char *p, size_t n, const char *suffix)
{
    size_t s = strlen(suffix);
    return n >= s && !memcmp(p + n - s, suffix, s);
}

static void runtime_input(struct conn *r)
{
    struct worker *w = r->w;
    size_t hl;
    long bl;
    while (!r->dead && (bl = framing(r->in, r->inlen, &hl)) != -1) {
        if (bl < 0 || hl + (size_t)bl > BUF) { drop(r); return; }
        if (r->inlen < hl + (size_t)bl) return;
        const char *path = memchr(r->in, ' ', hl), *end = path ? memchr(path + 1, ' ', hl - (size_t)(path - r->in) - 1) : NULL;
        if (!end) { drop(r); return; }
        size_t pl = (size_t)(end - path);
        if (!memcmp(r->in, "GET ", 4) && ends_with(path, pl, "/invocation/next")) {
            fail_peer(r);
            consume(r, hl + (size_t)bl);
            if (!r->started) {
                r->started = 1, w->live++;
                if (atomic_fetch_add(&parked_once, 1) + 1 == nruntimes && write(ready_pipe[1], "", 1) < 0) abort();
            }
            struct conn *cl = w->qhead;
            if (cl) { /* a client is waiting: it takes this runtime at once */
                if (!(w->qhead = cl->next)) w->qtail = NULL;
                cl->waiting = 0;
                size_t chl;
                long cbl = framing(cl->in, cl->inlen, &chl);
                pair(cl, r, chl, (size_t)cbl);
            } else {
                r->waiting = 1;
                r->next = w->idle;
                w->idle = r;
            }
        } else if (!memcmp(r->in, "POST ", 5)) {
            struct conn *cl = r->peer;
            int error = ends_with(path, pl, "/error");
            if (cl && (error || ends_with(path, pl, "/response"))) {
                r->peer = cl->peer = NULL; /* the client first, then the 202 */
                reply(cl, "200 OK", error ? "X-Amz-Function-Error: Unhandled\r\n" : "", r->in + hl, (size_t)bl);
            }
            send_msg(r, ack, sizeof ack - 1, "", 0);
            consume(r, hl + (size_t)bl);
        } else {
            drop(r); /* not the Runtime API */
            return;
        }
    }
    if (r->inlen == BUF) drop(r);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[64];
    for (;;) {
        int n = epoll_wait(w->ep, ev, 64, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (!c->dead && c->outlen && (ev[i].events & EPOLLOUT)) flush_out(c);
            if (c->dead || !(ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            if (c->inlen == BUF) { drop(c); continue; } /* full and still sending */
            ssize_t r = read(c->fd, c->in + c->inlen, BUF - c->inlen);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) { drop(c); continue; }
            c->inlen += (size_t)r;
            if (c->kind == CLIENT) client_input(c);
            else runtime_input(c);
        }
        for (struct conn *d; (d = w->dead); free(d->out), free(d)) w->dead = d->next;
    }
    return NULL;
}

/* Called from the main thread: after the epoll_ctl the worker owns the connection. */
static void adopt(struct worker *w, int fd, int kind)
{
    int one = 1;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd, c->kind = kind, c->w = w;
    struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e);
}

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) perror("relay: listen"), exit(1);
    *port = ntohs(a.sin_port);
    return fd;
}

static void stop(int sig) /* SIGTERM/SIGINT: exit 0; stop(0) on a failure: exit 1 */
{
    for (int i = 0; i < nruntimes; i++) if (pids[i] > 0) kill(pids[i], SIGKILL);
    for (int i = 0; i < nruntimes; i++) if (pids[i] > 0) waitpid(pids[i], NULL, 0);
    _exit(sig ? 0 : 1);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (nruntimes = atoi(argv[2])) < 1 || (nthreads = atoi(argv[3])) < 1)
        return fprintf(stderr, "usage: relay RUNTIME_BINARY N THREADS (N, THREADS >= 1)\n"), 2;
    if (nthreads > nruntimes) nthreads = nruntimes; /* a thread without runtimes could serve no one */
    int rport, cport, rl = listener(&rport), cl = listener(&cport);
    char api[64], path[4096];
    const char *p = getenv("PATH");
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", rport);
    snprintf(path, sizeof path, "PATH=%s", p ? p : "");
    char *env[] = { api, "_HANDLER=echo", p ? path : NULL, NULL }, *args[] = { argv[1], NULL };
    if (pipe2(ready_pipe, O_CLOEXEC) < 0 || !(pids = calloc((size_t)nruntimes + 1, sizeof *pids))) abort();

    pid_t self = getpid();
    for (int i = 0; i < nruntimes; i++) {
        if ((pids[i] = fork()) == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the relay (with this thread, which is main) */
            if (getppid() != self) _exit(1);
            execve(argv[1], args, env);
            perror("relay: exec");
            _exit(127);
        }
        if (pids[i] < 0) { perror("relay: fork"); stop(0); }
    }
    struct sigaction sa = { .sa_handler = stop };
    sigfillset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL), sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* after the forks: an ignored signal stays ignored across exec */

    struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
    for (int i = 0; i < nthreads; i++) {
        pthread_t t;
        ws[i].seq = (unsigned)i;
        if ((ws[i].ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || pthread_create(&t, NULL, worker_main, &ws[i])) abort();
    }

    /* Start-up: deal the runtimes out as they connect, until all are parked on /next. */
    for (int accepted = 0;;) {
        struct pollfd fds[2] = { { rl, POLLIN, 0 }, { ready_pipe[0], POLLIN, 0 } };
        poll(fds, 2, 100);
        if (fds[1].revents) break;
        if (fds[0].revents && accepted < nruntimes) {
            int fd = accept4(rl, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0) adopt(&ws[accepted++ % nthreads], fd, RUNTIME);
        }
        if (waitpid(-1, NULL, WNOHANG) > 0) {
            fprintf(stderr, "relay: a runtime exited during start-up\n");
            stop(0);
        }
    }
    printf("listening on http://127.0.0.1:%d\n", cport);
    fflush(stdout);

    for (unsigned k = 0;;) {
        int fd = accept4(cl, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) adopt(&ws[k++ % (unsigned)nthreads], fd, CLIENT);
        else if (errno == EMFILE || errno == ENFILE) usleep(10000);
    }
}
