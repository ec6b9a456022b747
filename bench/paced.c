// A constant-rate HTTP/1.1 GET load generator in the style of wrk2, for the rate-p99 row of
// `npm run bench`. Debian has no wrk2, and a paced client written in JavaScript adds its own
// event-loop lag and GC to every figure (against nginx's upstream directly it measured a
// p99 of 2-43 ms at 18,000 req/s), so the row measured the client. This one is C, epoll and
// a timerfd: request i is due at start + i / rate, goes out on the next idle connection,
// and its latency is measured from when it was due, not from when it went out (a proxy
// that stalls cannot hide the stall by slowing the client: no coordinated omission).
// Requests that are due while every connection is busy wait in order; those that went out
// over 1 ms after they were due count as late.
//
//   paced HOST PORT PATH RATE CONNECTIONS SECONDS
//
// prints {"started":true,...} when the clock starts, then one JSON line: responses, seconds, rps, p50, p90, p99, p999, max (ms), errors,
// non2xx, late, opened. Answers are framed by Content-Length or chunked (up to the last
// chunk); nothing else. Built by bench/paced-c.mjs with the system's cc; loopback only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
// latencies in microseconds: 1 us steps to 100 ms, then 100 us steps to 100 s
#define FINE 100000
#define COARSE 1000000

struct conn {
  int fd;
  int open;
  int busy;
  int queued; // in the idle queue
  uint64_t due; // ns, when the request in flight was due
  size_t len;
  char buf[BUF];
};

static uint64_t fine[FINE], coarse[COARSE];
static uint64_t recorded, max_us;
static struct sockaddr_in target;
static int ep;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(uint64_t ns) {
  uint64_t us = ns / 1000;
  if (us < FINE) fine[us]++;
  else if (us / 100 < COARSE) coarse[us / 100]++;
  else coarse[COARSE - 1]++;
  if (us > max_us) max_us = us;
  recorded++;
}

static double percentile(double p) {
  if (recorded == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)recorded);
  if (rank >= recorded) rank = recorded - 1;
  uint64_t seen = 0;
  for (int i = 0; i < FINE; i++) {
    seen += fine[i];
    if (seen > rank) return i / 1000.0;
  }
  for (int i = 0; i < COARSE; i++) {
    seen += coarse[i];
    if (seen > rank) return i / 10.0;
  }
  return max_us / 1000.0;
}

static int *idle; // a queue of idle connections, oldest first
static size_t idle_head, idle_count, idle_size;
static struct conn *conns;

static void push_idle(struct conn *c) {
  if (c->queued) return;
  c->queued = 1;
  idle[(idle_head + idle_count++) % idle_size] = (int)(c - conns);
}

static struct conn *pop_idle(void) {
  struct conn *c = &conns[idle[idle_head]];
  idle_head = (idle_head + 1) % idle_size;
  idle_count--;
  c->queued = 0;
  return c;
}

static int start_connect(struct conn *c) {
  c->open = 0;
  c->busy = 0;
  c->len = 0;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

/** A connect finished (events from epoll): 1 and the connection idle, or 0 and its socket closed. */
static int connected(struct conn *c, uint32_t events) {
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
    close(c->fd);
    c->fd = -1;
    return 0;
  }
  c->open = 1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  push_idle(c);
  return 1;
}

static uint64_t errors;
static int in_flight;

/** The connection failed (a write, a read, an answer it cannot frame): its request counts as an error; reconnect. */
static void drop(struct conn *c) {
  if (c->busy) {
    errors++;
    in_flight--;
  }
  close(c->fd);
  start_connect(c);
}

/** bytes one complete answer takes at the start of buf, 0 when more are needed, -1 when unframed */
static long complete(const char *buf, size_t len, int *status) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  size_t head = (size_t)(end - buf) + 4;
  if (len < 12) return 0;
  *status = atoi(buf + 9);
  for (const char *p = memmem(buf, head, "\r\n", 2); p != NULL && p < end; p = memmem(p + 2, (size_t)(end - p), "\r\n", 2)) {
    const char *line = p + 2;
    if (strncasecmp(line, "content-length:", 15) == 0) {
      long body = strtol(line + 15, NULL, 10);
      return len >= head + (size_t)body ? (long)head + body : 0;
    }
    if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
      const char *last = memmem(buf + head - 2, len - head + 2, "\r\n0\r\n\r\n", 7);
      return last == NULL ? 0 : (long)(last - buf) + 7;
    }
  }
  return *status == 204 || *status == 304 ? (long)head : -1;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: paced HOST PORT PATH RATE CONNECTIONS SECONDS\n");
    return 2;
  }
  const char *host = argv[1], *path = argv[3];
  double rate = atof(argv[4]), seconds = atof(argv[6]);
  int nconn = atoi(argv[5]);
  if (rate <= 0 || seconds <= 0 || nconn <= 0 || nconn > 100000) {
    fprintf(stderr, "paced: RATE, CONNECTIONS and SECONDS must be positive\n");
    return 2;
  }
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1 || strncmp(host, "127.", 4) != 0) {
    fprintf(stderr, "paced: HOST must be a loopback IPv4 address, not %s\n", host);
    return 2;
  }
  char request[1024];
  int reqlen = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: cutover-bench\r\n\r\n", path, host, argv[2]);
  if (reqlen <= 0 || reqlen >= (int)sizeof request) return 2;

  ep = epoll_create1(0);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  conns = calloc((size_t)nconn, sizeof *conns);
  idle = malloc(sizeof(int) * (size_t)nconn);
  idle_size = (size_t)nconn;
  if (!conns || !idle) return 1;
  for (int i = 0; i < nconn; i++) start_connect(&conns[i]);

  // connect them all (10 s at most) before the clock starts
  struct epoll_event events[256];
  int opened = 0;
  uint64_t give_up = now_ns() + 10000000000ull;
  while (opened < nconn && now_ns() < give_up) {
    int n = epoll_wait(ep, events, 256, 100);
    for (int k = 0; k < n; k++) {
      struct conn *c = events[k].data.ptr;
      if (c == NULL || c->open || c->fd < 0) continue;
      opened += connected(c, events[k].events);
    }
  }

  // the clock starts now: say so (the caller samples the proxy half way through)
  printf("{\"started\":true,\"opened\":%d}\n", opened);
  fflush(stdout);
  uint64_t interval = (uint64_t)(1e9 / rate);
  uint64_t start = now_ns();
  uint64_t total = (uint64_t)(rate * seconds);
  uint64_t end = start + (uint64_t)(seconds * 1e9);
  uint64_t sent = 0, responses = 0, non2xx = 0, late = 0;
  uint64_t drain_until = end + 2000000000ull;

  for (;;) {
    uint64_t now = now_ns();
    // send what is due on idle connections, in order; what cannot go waits (and is late)
    while (sent < total && start + sent * interval <= now) {
      if (idle_count == 0) break;
      struct conn *c = pop_idle();
      if (!c->open) continue;
      c->busy = 1;
      c->due = start + sent * interval;
      if (now - c->due > 1000000ull) late++;
      sent++;
      in_flight++;
      if (write(c->fd, request, (size_t)reqlen) != reqlen) drop(c);
    }
    if (sent >= total && in_flight == 0) break;
    if (now > drain_until) break;
    // wake for the next due request (or in 10 ms while only answers are awaited)
    uint64_t next = sent < total ? start + sent * interval : now + 10000000ull;
    if (sent < total && idle_count == 0) next = now + 10000000ull;
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull)}};
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    int n = epoll_wait(ep, events, 256, -1);
    for (int k = 0; k < n; k++) {
      struct conn *c = events[k].data.ptr;
      if (c == NULL) {
        uint64_t expirations;
        ssize_t r = read(tfd, &expirations, sizeof expirations);
        (void)r; // only to clear it: the loop reads the clock itself
        continue;
      }
      if (c->fd < 0) continue;
      if (!c->open) {
        // a reconnect finished (or failed)
        connected(c, events[k].events);
        continue;
      }
      ssize_t got = read(c->fd, c->buf + c->len, BUF - c->len);
      if (got <= 0 && !(got < 0 && errno == EAGAIN)) {
        drop(c);
        continue;
      }
      if (got < 0) continue;
      c->len += (size_t)got;
      int status = 0;
      long used = complete(c->buf, c->len, &status);
      if (used < 0 || (used == 0 && c->len == BUF)) {
        // an answer this client cannot frame, or one larger than its buffer
        drop(c);
        continue;
      }
      if (used == 0) continue;
      uint64_t at = now_ns();
      if (c->busy) {
        record(at - c->due);
        responses++;
        in_flight--;
        if (status < 200 || status > 299) non2xx++;
        c->busy = 0;
        push_idle(c);
      }
      memmove(c->buf, c->buf + used, c->len - (size_t)used);
      c->len -= (size_t)used;
    }
  }
  double elapsed = (double)(now_ns() - start) / 1e9;
  errors += (uint64_t)in_flight;
  printf("{\"tool\":\"paced-c\",\"responses\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
         "\"errors\":%llu,\"non2xx\":%llu,\"late\":%llu,\"opened\":%d}\n",
         (unsigned long long)responses, elapsed, (double)responses / elapsed, percentile(0.5), percentile(0.9), percentile(0.99), percentile(0.999),
         max_us / 1000.0, (unsigned long long)errors, (unsigned long long)non2xx, (unsigned long long)late, opened);
  return 0;
}
