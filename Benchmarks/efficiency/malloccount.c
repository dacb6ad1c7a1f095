// LD_PRELOAD allocation counter: counts malloc/calloc/realloc/posix_memalign/aligned_alloc/
// memalign calls of every thread and writes the running total (decimal, newline) to the file
// named by $MALLOCCOUNT_FILE every 20 ms and at exit. Built by `make malloccount`; used by
// Benchmarks/efficiency/allocations.sh (allocations per claim = delta / claims).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong allocations;

void *malloc(size_t size) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    void *p = memalign(alignment, size);
    if (!p) return 12;
    *out = p;
    return 0;
}

static void write_count(int fd) {
    char text[32];
    int n = snprintf(text, sizeof text, "%020lu\n", atomic_load_explicit(&allocations, memory_order_relaxed));
    pwrite(fd, text, (size_t)n, 0);
}

static int report_fd = -1;

__attribute__((destructor)) static void final_report(void) {
    if (report_fd >= 0) write_count(report_fd);
}

static void *reporter(void *unused) {
    (void)unused;
    const char *path = getenv("MALLOCCOUNT_FILE");
    if (!path) return NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return NULL;
    report_fd = fd;
    for (;;) {
        write_count(fd);
        usleep(20000);
    }
    return NULL;
}

__attribute__((constructor)) static void start_reporter(void) {
    if (!getenv("MALLOCCOUNT_FILE")) return;
    pthread_t thread;
    pthread_create(&thread, NULL, reporter, NULL);
    pthread_detach(thread);
}
