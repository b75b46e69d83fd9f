/* hot: the hot client of benches/slowdisk/run.sh.
 *
 * One keep-alive HTTP/1.1 connection to 127.0.0.1:PORT, GET PATH again and again for
 * SECONDS, one request at a time; each response's latency (request written to last body
 * byte read) is recorded exactly, and the distribution printed as one line:
 *
 *   HOT requests=N secs=S rps=R p50_us=A p99_us=B p999_us=C max_us=D errors=E
 *
 * Why not wrk -c1 --latency: on this machine wrk 4.1's latency histogram disagreed with
 * its own request count (a mean latency times the requests of one connection came to
 * several times the run's length), so its percentiles could not be trusted; this client
 * keeps every sample.  Build: gcc -O2 -Wall hot.c -o hot.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* read with a timeout: bytes read, 0 on close, -1 on error or timeout */
static ssize_t read_some(int fd, char *buf, size_t len, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return -1;
    return read(fd, buf, len);
}

/* one request-response; 0 when a whole 200 response arrived */
static int exchange(int fd, const char *req, size_t reqlen, char *buf, size_t cap, int timeout_ms) {
    if (write(fd, req, reqlen) != (ssize_t)reqlen) return -1;
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have + 1 >= cap) return -1;
        ssize_t n = read_some(fd, buf + have, cap - 1 - have, timeout_ms);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0) return -1;
    char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (!cl || cl > end) return -1;
    size_t body = strtoul(cl + 17, NULL, 10);
    size_t got = have - (size_t)(end + 4 - buf);
    while (got < body) {
        ssize_t n = read_some(fd, buf, cap, timeout_ms);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return got == body ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: hot PORT PATH SECONDS [TIMEOUT_MS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double secs = atof(argv[3]);
    int timeout_ms = argc == 5 ? atoi(argv[4]) : 10000;
    char req[512];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", argv[2]);
    if (port <= 0 || secs <= 0 || reqlen <= 0 || reqlen >= (int)sizeof req) return 2;

    size_t cap = 1 << 20, n = 0, errors = 0;
    uint64_t *lat = malloc(cap * sizeof *lat);
    static char buf[1 << 16];
    if (!lat) return 1;
    uint64_t start = now_ns(), deadline = start + (uint64_t)(secs * 1e9);
    int fd = -1;
    while (now_ns() < deadline) {
        if (fd < 0 && (fd = connect_to(port)) < 0) {
            errors++;
            usleep(10000);
            continue;
        }
        uint64_t t0 = now_ns();
        if (exchange(fd, req, (size_t)reqlen, buf, sizeof buf, timeout_ms) != 0) {
            errors++;
            close(fd);
            fd = -1;
            continue;
        }
        if (n == cap) {
            uint64_t *more = realloc(lat, 2 * cap * sizeof *lat);
            if (!more) break;
            lat = more;
            cap *= 2;
        }
        lat[n++] = now_ns() - t0;
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    if (fd >= 0) close(fd);
    qsort(lat, n, sizeof *lat, cmp_u64);
#define PCT(p) (n ? lat[(size_t)((double)(n - 1) * (p))] / 1000 : 0)
    printf("HOT requests=%zu secs=%.3f rps=%.1f p50_us=%lu p99_us=%lu p999_us=%lu max_us=%lu errors=%zu\n",
           n, elapsed, (double)n / elapsed, (unsigned long)PCT(0.50), (unsigned long)PCT(0.99),
           (unsigned long)PCT(0.999), (unsigned long)(n ? lat[n - 1] / 1000 : 0), errors);
    free(lat);
    return n ? 0 : 1;
}
