/* Files in and out, bounded and atomic.
 *
 * Reading: only regular files are read (a FIFO would block forever, a
 * device such as /dev/zero never ends), no larger than the reader's stated
 * bound, with no NUL byte in a text file, so any input is refused or read
 * within seconds and bounded memory.
 *
 * Writing: a result goes to a temporary file beside its destination, is
 * flushed and synced, renamed over the destination, and the directory is
 * synced, so a crash leaves either the old file or the new one, never half
 * of one. */
#ifndef SHP_FILE_H
#define SHP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds of the readers (DESIGN.md, bounded inputs). Human-written files
 * (stacks, targets, labs, materials, calibrations) are small; data files
 * (CSV spectra and traces, refractiveindex.info tables) hold at most a few
 * hundred thousand rows; journals hold every trace of a long run. */
#define SHP_FILE_MAX_TEXT ((size_t)1 << 20)      /* 1 MiB */
#define SHP_FILE_MAX_DATA ((size_t)32 << 20)     /* 32 MiB */
#define SHP_FILE_MAX_JOURNAL ((size_t)256 << 20) /* 256 MiB */
#define SHP_FILE_MAX_LINE ((size_t)64 << 10)     /* 64 KiB per line */

/* Reads all of path, a regular file of at most max_bytes bytes, into a new
 * NUL-terminated buffer (*text, owned by the caller: free) of *len bytes.
 * Errors (each "PATH: ..."): SHP_ERR_FILE (cannot open, not a regular file,
 * larger than max_bytes, a NUL byte in it, a read error), SHP_ERR_NOMEM. */
int shp_file_read(const char *path, size_t max_bytes, char **text, size_t *len);

/* Opens path for reading as a stream, refusing what is not a regular file
 * or is larger than max_bytes, with the same errors as shp_file_read. For
 * readers that stream a large file line by line. */
FILE *shp_file_open_read(const char *path, size_t max_bytes);

/* Writes path atomically: fill(f, user) writes the whole content to a
 * temporary file in the same directory, which is then flushed, synced,
 * renamed over path, and the directory synced. "-" writes to standard
 * output instead. fill returns SHP_OK or a recorded error; on any failure
 * path is untouched and the temporary file removed. Temporary files left by
 * a killed writer are named ".NAME.tmp-XXXXXX" and removed by the next write
 * of the same path. Errors: fill's own, SHP_ERR_WRITE ("PATH: cannot write:
 * REASON"). */
int shp_file_write_atomic(const char *path, int (*fill)(FILE *f, void *user),
                          void *user);

/* Checks before any long work that path can be written: its directory
 * exists and takes a new file (a probe file is created and removed), and
 * path is not a directory. Returns SHP_OK or SHP_ERR_WRITE ("PATH: cannot
 * write: REASON"). "-" is always writable. */
int shp_file_check_writable(const char *path);

#ifdef __cplusplus
}
#endif
#endif
