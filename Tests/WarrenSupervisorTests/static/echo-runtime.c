/*
 * echo-runtime: a custom runtime (`bootstrap`) in C that speaks the Lambda
 * Runtime API over one keep-alive connection, for the supervisor's tests
 * and benchmarks. It answers each event with the event itself, except for
 * events that ask for a behaviour:
 *   {"count":…}   → {"pid":P,"count":N}  (N grows per invocation in this process)
 *   {"sleep":S}   → sleeps S seconds, then echoes
 *   {"crash":C}   → exits with status C
 *   {"oom":1}     → allocates until the cgroup's OOM killer ends it
 *   {"error":1}   → POST …/error with an error body
 *   {"break":1}   → sends garbage instead of a response, then waits
 *   {"truncate":C} → starts a 100-byte response, closes the connection after 10 bytes, then
 *                   waits (C = 0) or exits with status C
 *   {"env":"K"}   → {"K":"value of K"}
 *   {"big":N}     → a response of N bytes
 *   {"log":1}     → prints a line to stdout, then echoes
 *   {"lines":N}   → prints N numbered lines of 61 bytes to stdout, in two writes each (the text,
 *                   then its newline, as Python's print does unbuffered), then echoes
 *   {"deadline":…} → {"deadline":D}, D the event's Lambda-Runtime-Deadline-Ms
 *   {"spinAfter":1} → echoes, then spins for ever without asking for the next event
 *   {"sleepAfter":S} → echoes, then sleeps S seconds before asking for the next event
 * _HANDLER selects init behaviours: "init-error" (POST /init/error, exit),
 * "init-crash" (exit 2 before /next), "init-hang" (never calls /next), "init-partial" (prints
 * without a newline, exits 3).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int conn = -1;
static char host[64] = "127.0.0.1";
static int port = 9001;

static void die(const char *what)
{
    fprintf(stderr, "echo-runtime: %s: %s\n", what, strerror(errno));
    exit(111);
}

static void connect_api(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (api) {
        const char *colon = strchr(api, ':');
        size_t n = colon ? (size_t)(colon - api) : strlen(api);
        if (n < sizeof host) {
            memcpy(host, api, n);
            host[n] = 0;
        }
        if (colon) port = atoi(colon + 1);
    }
    conn = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &a.sin_addr);
    int one = 1;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(conn, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
}

static void send_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(conn, p, n);
        if (w < 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

static char rbuf[1 << 20];
static size_t rlen;
/* Lambda-Runtime-Deadline-Ms of the last /next answer. */
static long long deadline_ms;

/* Reads one response; returns its body (NUL-terminated) and status. */
static char *read_response(int *status, char *request_id, size_t id_len)
{
    char *end;
    for (;;) {
        rbuf[rlen] = 0;
        if ((end = strstr(rbuf, "\r\n\r\n"))) break;
        ssize_t r = read(conn, rbuf + rlen, sizeof rbuf - 1 - rlen);
        if (r <= 0) die("read headers");
        rlen += (size_t)r;
    }
    *status = atoi(rbuf + 9);
    size_t header_len = (size_t)(end + 4 - rbuf), body_len = 0;
    for (char *line = rbuf; line < end; line = strstr(line, "\r\n") + 2) {
        if (!strncasecmp(line, "Content-Length:", 15)) body_len = strtoul(line + 15, NULL, 10);
        if (!strncasecmp(line, "Lambda-Runtime-Deadline-Ms:", 27)) deadline_ms = strtoll(line + 27, NULL, 10);
        if (request_id && !strncasecmp(line, "Lambda-Runtime-Aws-Request-Id:", 30)) {
            char *v = line + 30, *e = strstr(v, "\r\n");
            while (*v == ' ') v++;
            size_t n = (size_t)(e - v) < id_len - 1 ? (size_t)(e - v) : id_len - 1;
            memcpy(request_id, v, n);
            request_id[n] = 0;
        }
    }
    if (header_len + body_len >= sizeof rbuf) { errno = EMSGSIZE; die("response too large"); }
    while (rlen < header_len + body_len) {
        ssize_t r = read(conn, rbuf + rlen, sizeof rbuf - 1 - rlen);
        if (r <= 0) die("read body");
        rlen += (size_t)r;
    }
    static char body[1 << 20];
    memcpy(body, rbuf + header_len, body_len);
    body[body_len] = 0;
    memmove(rbuf, rbuf + header_len + body_len, rlen - header_len - body_len);
    rlen -= header_len + body_len;
    return body;
}

static void post(const char *path, const char *extra_headers, const char *body, size_t n)
{
    char head[512];
    int h = snprintf(head, sizeof head, "POST /2018-06-01/runtime/%s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n\r\n",
                     path, host, extra_headers, n);
    /* One write for a small request, as libcurl and Go's net/http send one: two segments would
       wake the Runtime API twice for one request. */
    static char one[64 * 1024];
    if ((size_t)h + n <= sizeof one) {
        memcpy(one, head, (size_t)h);
        memcpy(one + h, body, n);
        send_all(one, (size_t)h + n);
    } else {
        send_all(head, (size_t)h);
        send_all(body, n);
    }
    int status;
    read_response(&status, NULL, 0);
    if (status != 202) fprintf(stderr, "echo-runtime: POST %s: %d\n", path, status);
}

static long field(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static void respond(const char *id, const char *body, size_t n)
{
    char path[160];
    snprintf(path, sizeof path, "invocation/%s/response", id);
    post(path, "", body, n);
}

static void handle(const char *id, const char *event, long *count)
{
    char out[512];
    if (field(event, "count") >= 0) {
        int n = snprintf(out, sizeof out, "{\"pid\":%d,\"count\":%ld}", getpid(), ++*count);
        respond(id, out, (size_t)n);
    } else if (field(event, "lines") >= 0) {
        for (long i = 0; i < field(event, "lines"); i++) {
            printf("line %05ld %s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            fflush(stdout);
            putchar('\n');
            fflush(stdout);
        }
        respond(id, event, strlen(event));
    } else if (field(event, "sleepAfter") >= 0) {
        unsigned seconds = (unsigned)field(event, "sleepAfter");
        respond(id, event, strlen(event));
        sleep(seconds);
    } else if (field(event, "spinAfter") >= 0) {
        respond(id, event, strlen(event));
        for (volatile unsigned long n = 0;; n++) {}
    } else if (field(event, "deadline") >= 0) {
        int n = snprintf(out, sizeof out, "{\"deadline\":%lld}", deadline_ms);
        respond(id, out, (size_t)n);
    } else if (field(event, "crash") >= 0) {
        exit((int)field(event, "crash"));
    } else if (field(event, "exitAfter") >= 0) {
        /* Answers, then exits cleanly after that many ms, before asking for the next event.
         * (Read first: the answer's 202 reuses the buffer the event is in.) */
        useconds_t delay = (useconds_t)field(event, "exitAfter") * 1000;
        respond(id, event, strlen(event));
        usleep(delay);
        exit(0);
    } else if (field(event, "sleep") >= 0) {
        sleep((unsigned)field(event, "sleep"));
        respond(id, event, strlen(event));
    } else if (field(event, "oom") >= 0) {
        for (;;) {
            char *p = malloc(1 << 20);
            if (p) memset(p, 1, 1 << 20);
        }
    } else if (field(event, "error") >= 0) {
        const char *e = "{\"errorMessage\":\"it failed\",\"errorType\":\"TestError\"}";
        char path[160];
        snprintf(path, sizeof path, "invocation/%s/error", id);
        post(path, "Lambda-Runtime-Function-Error-Type: Function.TestError\r\n", e, strlen(e));
    } else if (field(event, "truncate") >= 0) {
        long code = field(event, "truncate");
        char head[256];
        int h = snprintf(head, sizeof head,
                         "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
                         "Content-Length: 100\r\n\r\n0123456789", id, host);
        send_all(head, (size_t)h);
        close(conn);
        if (code > 0) exit((int)code);
        for (;;) pause();
    } else if (field(event, "break") >= 0) {
        send_all("NOT HTTP AT ALL\r\n\r\n", 19);
        pause();
    } else if (field(event, "big") >= 0) {
        size_t n = (size_t)field(event, "big");
        char *b = malloc(n);
        memset(b, 'x', n);
        respond(id, b, n);
        free(b);
    } else if (strstr(event, "\"env\":\"")) {
        const char *k = strstr(event, "\"env\":\"") + 7;
        char key[64];
        size_t i = 0;
        while (k[i] && k[i] != '"' && i < sizeof key - 1) { key[i] = k[i]; i++; }
        key[i] = 0;
        const char *v = getenv(key);
        int n = snprintf(out, sizeof out, "{\"%s\":\"%s\"}", key, v ? v : "");
        respond(id, out, (size_t)n);
    } else {
        if (field(event, "log") >= 0) printf("log line from the function\n"), fflush(stdout);
        respond(id, event, strlen(event));
    }
}

int main(void)
{
    const char *handler = getenv("_HANDLER");
    /* A failed init's output reaches the log tail of the invocation that waited for it. */
    if (handler && !strncmp(handler, "init-", 5) && strncmp(handler, "init-slow", 9))
        fprintf(stderr, "echo-runtime: %s\n", handler);
    if (handler && !strcmp(handler, "init-crash")) return 2;
    if (handler && !strcmp(handler, "init-partial")) { fputs("a line left without its newline", stdout); return 3; }
    if (handler && !strcmp(handler, "init-hang")) for (;;) pause();
    if (handler && !strcmp(handler, "init-slow")) usleep(300 * 1000); /* init takes 300 ms */
    if (handler && !strcmp(handler, "init-slower")) usleep(1500 * 1000); /* init takes 1.5 s */
    connect_api();
    if (handler && !strcmp(handler, "init-error")) {
        const char *e = "{\"errorMessage\":\"init failed\",\"errorType\":\"InitError\"}";
        post("init/error", "Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n", e, strlen(e));
        return 1;
    }
    long count = 0;
    for (;;) {
        char req[256];
        int n = snprintf(req, sizeof req, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", host);
        send_all(req, (size_t)n);
        int status;
        char id[128] = "";
        char *event = read_response(&status, id, sizeof id);
        if (status != 200) { fprintf(stderr, "echo-runtime: /next: %d\n", status); return 3; }
        handle(id, event, &count);
    }
}
