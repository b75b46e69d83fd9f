/* gatefs: a passthrough FUSE filesystem with a delay and a gate, for evserve's tests.
 *
 * It mirrors a backing folder. Every operation on a path can be made slow (a delay in
 * milliseconds, per kind of operation) or held at a gate until the test releases it, so a
 * test can prove what a server does while one of its file operations is stuck, without
 * sleeping. Commands arrive as lines on a Unix stream socket; see README.md beside this file.
 *
 *   gatefs [--delay-read MS] [--delay-open MS] [--delay-getattr MS] [--delay-readdir MS]
 *          BACKING CONTROL_SOCKET MOUNTPOINT [FUSE OPTIONS...]
 *
 * Built against libfuse3's (>= 3.12) high-level API and run multithreaded, up to
 * MAX_THREADS operations at once, so held operations do not hold up the others. Page cache: the mount keeps file data in the
 * kernel's page cache across opens (kernel_cache), and attributes and names are never cached
 * (timeouts 0), so a change in the backing folder shows at once (a changed size or mtime
 * drops the cached pages: the kernel's auto_inval_data, which libfuse asks for by default).
 */
/* 3.12: the loop's thread cap can be set (fuse_main's default of 10 would let ten held
 * operations stop the whole mount). */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE

#include <fuse.h>
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Operations in progress at once (held ones included). */
#define MAX_THREADS 256

enum op { OP_READ, OP_OPEN, OP_GETATTR, OP_READDIR, OP_COUNT };
static const char *op_names[OP_COUNT] = {"read", "open", "getattr", "readdir"};

/* One hold: operations of kind `op` on a path matching `pattern` wait at the gate.
 * A pattern starting with '/' is an exact path; one starting with '~' matches any path
 * containing the rest; "*" matches every path. */
struct hold {
    enum op op;
    char *pattern;
    struct hold *next;
};

/* What happened to operations of one kind on one path since the mount. */
struct stat_entry {
    enum op op;
    char *path;
    unsigned long arrived; /* operations that reached the filesystem */
    unsigned long held;    /* operations waiting at the gate now */
    unsigned long delayed; /* operations that slept for a delay */
    struct stat_entry *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER; /* a hold went, or a count moved */
static struct hold *holds;
static struct stat_entry *stats;
static unsigned delay_ms[OP_COUNT];
static int backing_fd = -1;
static const char *control_path;

static int parse_op(const char *s, enum op *op) {
    for (int i = 0; i < OP_COUNT; i++) {
        if (strcmp(s, op_names[i]) == 0) {
            *op = (enum op)i;
            return 0;
        }
    }
    return -1;
}

static int pattern_matches(const char *pattern, const char *path) {
    if (strcmp(pattern, "*") == 0) return 1;
    if (pattern[0] == '~') return strstr(path, pattern + 1) != NULL;
    return strcmp(pattern, path) == 0;
}

/* Called with the lock held. */
static int is_held(enum op op, const char *path) {
    for (struct hold *h = holds; h; h = h->next)
        if (h->op == op && pattern_matches(h->pattern, path)) return 1;
    return 0;
}

/* Called with the lock held: the entry for (op, path), made on first use. */
static struct stat_entry *entry(enum op op, const char *path) {
    for (struct stat_entry *e = stats; e; e = e->next)
        if (e->op == op && strcmp(e->path, path) == 0) return e;
    struct stat_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) abort();
    e->op = op;
    e->next = stats;
    stats = e;
    return e;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Every gated operation passes here first: counted, held while a hold matches, then delayed. */
static void gate(enum op op, const char *path) {
    pthread_mutex_lock(&lock);
    struct stat_entry *e = entry(op, path);
    e->arrived++;
    if (is_held(op, path)) {
        e->held++;
        pthread_cond_broadcast(&changed);
        while (is_held(op, path)) pthread_cond_wait(&changed, &lock);
        e->held--;
    }
    unsigned ms = delay_ms[op];
    if (ms) e->delayed++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    if (ms) sleep_ms(ms);
}

/* "/a/b" -> "a/b", "/" -> "." : paths relative to the backing folder's descriptor. */
static const char *rel(const char *path) {
    while (*path == '/') path++;
    return *path ? path : ".";
}

/* ---- the filesystem ---- */

static void *gfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    /* Readahead's reads are background requests, 12 at once by default for the whole
     * mount: held ones would soon stop every other file's readahead. */
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    cfg->use_ino = 1;
    cfg->kernel_cache = 1;  /* a file read once stays in the page cache across opens */
    cfg->auto_cache = 0;
    cfg->direct_io = 0;
    cfg->attr_timeout = 0;  /* every stat reaches us: backing changes show at once */
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->nullpath_ok = 0;
    return NULL;
}

static int gfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    gate(OP_GETATTR, path);
    int r = fi ? fstat((int)fi->fh, st) : fstatat(backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
    return r == -1 ? -errno : 0;
}

static int gfs_readlink(const char *path, char *buf, size_t size) {
    ssize_t n = readlinkat(backing_fd, rel(path), buf, size - 1);
    if (n == -1) return -errno;
    buf[n] = '\0';
    return 0;
}

static int gfs_open(const char *path, struct fuse_file_info *fi) {
    gate(OP_OPEN, path);
    int fd = openat(backing_fd, rel(path), fi->flags);
    if (fd == -1) return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int gfs_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
    gate(OP_OPEN, path);
    int fd = openat(backing_fd, rel(path), fi->flags | O_CREAT, mode);
    if (fd == -1) return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int gfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    gate(OP_READ, path);
    ssize_t n = pread((int)fi->fh, buf, size, off);
    return n == -1 ? -errno : (int)n;
}

static int gfs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)path;
    ssize_t n = pwrite((int)fi->fh, buf, size, off);
    return n == -1 ? -errno : (int)n;
}

static int gfs_release(const char *path, struct fuse_file_info *fi) {
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int gfs_flush(const char *path, struct fuse_file_info *fi) {
    (void)path;
    (void)fi;
    return 0;
}

static int gfs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)path;
    int r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
    return r == -1 ? -errno : 0;
}

static int gfs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    int r;
    if (fi) {
        r = ftruncate((int)fi->fh, size);
    } else {
        int fd = openat(backing_fd, rel(path), O_WRONLY);
        if (fd == -1) return -errno;
        r = ftruncate(fd, size);
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return r == -1 ? -errno : 0;
}

static int gfs_unlink(const char *path) {
    return unlinkat(backing_fd, rel(path), 0) == -1 ? -errno : 0;
}

static int gfs_mkdir(const char *path, mode_t mode) {
    return mkdirat(backing_fd, rel(path), mode) == -1 ? -errno : 0;
}

static int gfs_rmdir(const char *path) {
    return unlinkat(backing_fd, rel(path), AT_REMOVEDIR) == -1 ? -errno : 0;
}

static int gfs_symlink(const char *target, const char *path) {
    return symlinkat(target, backing_fd, rel(path)) == -1 ? -errno : 0;
}

static int gfs_rename(const char *from, const char *to, unsigned int flags) {
    if (flags) return -EINVAL;
    return renameat(backing_fd, rel(from), backing_fd, rel(to)) == -1 ? -errno : 0;
}

static int gfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
    int r = fi ? fchmod((int)fi->fh, mode) : fchmodat(backing_fd, rel(path), mode, 0);
    return r == -1 ? -errno : 0;
}

static int gfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
    int r = fi ? futimens((int)fi->fh, tv) : utimensat(backing_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW);
    return r == -1 ? -errno : 0;
}

static int gfs_statfs(const char *path, struct statvfs *sv) {
    (void)path;
    return fstatvfs(backing_fd, sv) == -1 ? -errno : 0;
}

static int gfs_opendir(const char *path, struct fuse_file_info *fi) {
    int fd = openat(backing_fd, rel(path), O_RDONLY | O_DIRECTORY);
    if (fd == -1) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

static int gfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                       enum fuse_readdir_flags flags) {
    (void)flags;
    gate(OP_READDIR, path);
    DIR *d = (DIR *)(uintptr_t)fi->fh;
    /* The whole folder in one call, offsets 0 (libfuse buffers it): a fresh listing
     * each time the folder is read from its start. */
    if (off != 0) return 0;
    rewinddir(d);
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct stat st = {0};
        st.st_ino = de->d_ino;
        st.st_mode = (mode_t)(DTTOIF(de->d_type));
        if (fill(buf, de->d_name, &st, 0, 0)) break;
    }
    return errno ? -errno : 0;
}

static int gfs_releasedir(const char *path, struct fuse_file_info *fi) {
    (void)path;
    closedir((DIR *)(uintptr_t)fi->fh);
    return 0;
}

static const struct fuse_operations gfs_ops = {
    .init = gfs_init,
    .getattr = gfs_getattr,
    .readlink = gfs_readlink,
    .open = gfs_open,
    .create = gfs_create,
    .read = gfs_read,
    .write = gfs_write,
    .release = gfs_release,
    .flush = gfs_flush,
    .fsync = gfs_fsync,
    .truncate = gfs_truncate,
    .unlink = gfs_unlink,
    .mkdir = gfs_mkdir,
    .rmdir = gfs_rmdir,
    .symlink = gfs_symlink,
    .rename = gfs_rename,
    .chmod = gfs_chmod,
    .utimens = gfs_utimens,
    .statfs = gfs_statfs,
    .opendir = gfs_opendir,
    .readdir = gfs_readdir,
    .releasedir = gfs_releasedir,
};

/* ---- the control socket ---- */

/* One command line -> one answer line (without the newline) in `out`. */
static void command(char *line, char *out, size_t outlen) {
    char *words[6] = {0};
    int n = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w && n < 6; w = strtok_r(NULL, " \t\r\n", &save))
        words[n++] = w;
    enum op op;
    if (n == 0) {
        snprintf(out, outlen, "err empty command");
    } else if (strcmp(words[0], "ping") == 0 && n == 1) {
        snprintf(out, outlen, "ok pong");
    } else if (strcmp(words[0], "hold") == 0 && n == 3 && parse_op(words[1], &op) == 0) {
        struct hold *h = calloc(1, sizeof *h);
        if (!h || !(h->pattern = strdup(words[2]))) abort();
        h->op = op;
        pthread_mutex_lock(&lock);
        h->next = holds;
        holds = h;
        pthread_mutex_unlock(&lock);
        snprintf(out, outlen, "ok");
    } else if (strcmp(words[0], "release") == 0 && n == 2 && strcmp(words[1], "all") == 0) {
        pthread_mutex_lock(&lock);
        while (holds) {
            struct hold *h = holds;
            holds = h->next;
            free(h->pattern);
            free(h);
        }
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        snprintf(out, outlen, "ok");
    } else if (strcmp(words[0], "release") == 0 && n == 3 && parse_op(words[1], &op) == 0) {
        int removed = 0;
        pthread_mutex_lock(&lock);
        for (struct hold **p = &holds; *p;) {
            struct hold *h = *p;
            if (h->op == op && strcmp(h->pattern, words[2]) == 0) {
                *p = h->next;
                free(h->pattern);
                free(h);
                removed++;
            } else {
                p = &h->next;
            }
        }
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        if (removed)
            snprintf(out, outlen, "ok");
        else
            snprintf(out, outlen, "err no hold %s %s", words[1], words[2]);
    } else if (strcmp(words[0], "delay") == 0 && n == 3 && parse_op(words[1], &op) == 0) {
        char *end;
        unsigned long ms = strtoul(words[2], &end, 10);
        if (*end || ms > 600000) {
            snprintf(out, outlen, "err bad milliseconds %s", words[2]);
        } else {
            pthread_mutex_lock(&lock);
            delay_ms[op] = (unsigned)ms;
            pthread_mutex_unlock(&lock);
            snprintf(out, outlen, "ok");
        }
    } else if (strcmp(words[0], "stat") == 0 && n == 3 && parse_op(words[1], &op) == 0) {
        pthread_mutex_lock(&lock);
        struct stat_entry *e = entry(op, words[2]);
        snprintf(out, outlen, "ok arrived %lu held %lu delayed %lu", e->arrived, e->held, e->delayed);
        pthread_mutex_unlock(&lock);
    } else if (strcmp(words[0], "wait") == 0 && n == 5 && parse_op(words[1], &op) == 0) {
        /* wait OP PATH N MS: until N operations on PATH are held at the gate at once. */
        char *end1, *end2;
        unsigned long want = strtoul(words[3], &end1, 10);
        unsigned long ms = strtoul(words[4], &end2, 10);
        if (*end1 || *end2) {
            snprintf(out, outlen, "err bad number");
            return;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(ms / 1000);
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&lock);
        struct stat_entry *e = entry(op, words[2]);
        int r = 0;
        while (e->held < want && r != ETIMEDOUT) r = pthread_cond_timedwait(&changed, &lock, &until);
        unsigned long held = e->held;
        pthread_mutex_unlock(&lock);
        snprintf(out, outlen, "%s %lu", held >= want ? "ok" : "timeout", held);
    } else {
        snprintf(out, outlen, "err unknown command");
    }
}

static void *serve_client(void *arg) {
    int fd = (int)(intptr_t)arg;
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    char out[512];
    while (getline(&line, &cap, in) > 0) {
        command(line, out, sizeof out - 1);
        size_t len = strlen(out);
        out[len++] = '\n';
        if (send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len) break;
    }
    free(line);
    fclose(in);
    return NULL;
}

static void *control_loop(void *arg) {
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("gatefs: accept");
            return NULL;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_client, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}

static int start_control(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "gatefs: control socket path too long: %s\n", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1 || listen(fd, 16) == -1) {
        perror("gatefs: control socket");
        return -1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, control_loop, (void *)(intptr_t)fd) != 0) return -1;
    pthread_detach(t);
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: gatefs [--delay-read MS] [--delay-open MS] [--delay-getattr MS] [--delay-readdir MS]\n"
            "              BACKING CONTROL_SOCKET MOUNTPOINT [FUSE OPTIONS...]\n");
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--delay-", 8) == 0; i += 2) {
        enum op op;
        char *end;
        unsigned long ms = strtoul(argv[i + 1], &end, 10);
        if (parse_op(argv[i] + 8, &op) != 0 || *end || ms > 600000) {
            usage();
            return 2;
        }
        delay_ms[op] = (unsigned)ms;
    }
    if (argc - i < 3) {
        usage();
        return 2;
    }
    const char *backing = argv[i];
    control_path = argv[i + 1];
    backing_fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (backing_fd == -1) {
        perror(backing);
        return 1;
    }
    if (start_control(control_path) != 0) return 1;
    /* libfuse sees: argv[0] MOUNTPOINT [FUSE OPTIONS...] (what fuse_main does, but with
     * the multithreaded loop's thread cap raised). */
    argv[i + 1] = argv[0];
    struct fuse_args args = FUSE_ARGS_INIT(argc - (i + 1), argv + i + 1);
    struct fuse_cmdline_opts opts;
    if (fuse_parse_cmdline(&args, &opts) != 0) return 2;
    if (!opts.mountpoint) {
        usage();
        return 2;
    }
    int r = 1;
    struct fuse *f = fuse_new(&args, &gfs_ops, sizeof gfs_ops, NULL);
    if (f && fuse_mount(f, opts.mountpoint) == 0) {
        struct fuse_session *se = fuse_get_session(f);
        if (fuse_daemonize(opts.foreground) == 0 && fuse_set_signal_handlers(se) == 0) {
            if (opts.singlethread) {
                r = fuse_loop(f) ? 1 : 0;
            } else {
                struct fuse_loop_config *cfg = fuse_loop_cfg_create();
                fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts.clone_fd);
                if (opts.max_idle_threads != UINT_MAX) fuse_loop_cfg_set_idle_threads(cfg, opts.max_idle_threads);
                fuse_loop_cfg_set_max_threads(cfg, MAX_THREADS);
                r = fuse_loop_mt(f, cfg) ? 1 : 0;
                fuse_loop_cfg_destroy(cfg);
            }
            fuse_remove_signal_handlers(se);
        }
        fuse_unmount(f);
    }
    if (f) fuse_destroy(f);
    free(opts.mountpoint);
    fuse_opt_free_args(&args);
    unlink(control_path);
    return r;
}
