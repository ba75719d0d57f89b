#include "alloc_count.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNTING 0
#endif
#endif
#ifndef COUNTING
#define COUNTING 1
#endif

static atomic_size_t calls, aligned_calls;

size_t alloc_count(void) { return atomic_load(&calls); }
size_t alloc_count_aligned(void) { return atomic_load(&aligned_calls); }
bool alloc_count_enabled(void) { return COUNTING; }

#if COUNTING
/* glibc's own allocator entry points, exported for exactly this use. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);
int posix_memalign(void **out, size_t align, size_t size);
void *aligned_alloc(size_t align, size_t size);
void *memalign(size_t align, size_t size);

void *malloc(size_t size) {
  atomic_fetch_add(&calls, 1);
  return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
  atomic_fetch_add(&calls, 1);
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
  atomic_fetch_add(&calls, 1);
  return __libc_realloc(p, size);
}
void free(void *p) { __libc_free(p); }
int posix_memalign(void **out, size_t align, size_t size) {
  atomic_fetch_add(&calls, 1);
  atomic_fetch_add(&aligned_calls, 1);
  if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
    return EINVAL;
  void *p = __libc_memalign(align, size);
  if (p == NULL)
    return ENOMEM;
  *out = p;
  return 0;
}
void *aligned_alloc(size_t align, size_t size) {
  atomic_fetch_add(&calls, 1);
  atomic_fetch_add(&aligned_calls, 1);
  return __libc_memalign(align, size);
}
void *memalign(size_t align, size_t size) {
  atomic_fetch_add(&calls, 1);
  atomic_fetch_add(&aligned_calls, 1);
  return __libc_memalign(align, size);
}
#endif
