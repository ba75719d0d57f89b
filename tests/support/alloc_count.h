/* Counting heap allocations in a test or benchmark program.
 *
 * Linking alloc_count.c into an executable interposes malloc, calloc,
 * realloc, posix_memalign, aligned_alloc and memalign for the whole process
 * (the executable's definitions win over libc's for every shared library),
 * forwarding to glibc's __libc_* entry points and counting each call. This
 * is how the hot-path contract "allocates nothing" is checked. Sanitizers
 * own malloc, so under them counting is off and alloc_count_enabled() says
 * so. */
#ifndef SHP_ALLOC_COUNT_H
#define SHP_ALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

/* Number of allocation calls since the program started. */
size_t alloc_count(void);
/* Of those, the aligned ones (memalign, posix_memalign, aligned_alloc):
 * FFTW allocates this way, so a test can prove the counter sees FFTW. */
size_t alloc_count_aligned(void);
/* False when the build replaced malloc itself (ASan) and nothing is counted. */
bool alloc_count_enabled(void);

#endif
