/* Run journals: JSON Lines, one record a line, each flushed to disk
 * (fsync) before the step it records is acted on, so a crash or a power
 * loss loses at most the step under way and never tears a record.
 *
 * One writer: a journal is held with an exclusive advisory lock (flock) by
 * the process writing it, from its creation or its opening for resume to
 * its close, so a second process is refused (SHP_ERR_BUSY) before it can
 * touch a device.
 *
 * A journal is created once, atomically with its first record, and never
 * overwritten; a resumed run appends to it. Reading keeps every whole
 * record and reports a torn final line (an unterminated last line: what a
 * power loss mid-write leaves), which opening for resume cuts off. A
 * complete line that is not a record is an error naming the line, wherever
 * it is. Records are Jansson objects; the meaning of their fields belongs
 * to the writer (the closed loop, calibration). Every string put into a
 * record goes through shp_journal_string, so no text from a device or a
 * file name can make a record unencodable. */
#ifndef SHP_JOURNAL_H
#define SHP_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest line a journal reader accepts: a record of the largest trace
 * (65536 points, two arrays of 17-digit numbers) with room to spare. */
#define SHP_JOURNAL_MAX_LINE ((size_t)8 << 20)

typedef struct shp_journal shp_journal;

/* Create a new journal at path holding first (a JSON object, borrowed) as
 * its first record, atomically: the record is written and synced under a
 * temporary name beside path, which is then linked into place without ever
 * replacing a file, so a crash leaves either no journal or one with its
 * first record (its temporary file, ".NAME.tmp-XXXXXX", is removed by a
 * later create once a minute old). The journal is locked from before it
 * appears. Errors:
 * SHP_ERR_WRITE ("PATH: exists (a journal is never overwritten ...)", or
 * the system's reason), SHP_ERR_INVALID (first is not an object),
 * SHP_ERR_NOMEM. Returns NULL with shp_error_detail(). Owned by the caller:
 * shp_journal_close. */
shp_journal *shp_journal_create(const char *path, json_t *first);

/* Open an existing journal to continue it: lock it (SHP_ERR_BUSY "PATH: in
 * use by another process (pid N)" when another open file holds it, in this
 * process or another) and read every record into *records (a new array,
 * the caller's reference). A torn last line (*torn says whether there was
 * one; may be NULL) is cut off by the first append, so a journal closed
 * without one is left as it was. The errors of shp_journal_read, and
 * SHP_ERR_FILE when path is not a regular file. */
shp_journal *shp_journal_resume(const char *path, json_t **records, bool *torn);

/* Whether a journal could be taken now, for a front end to ask before it
 * opens any device: with existing, path must be a regular file no other
 * open file holds (SHP_ERR_BUSY, SHP_ERR_FILE as shp_journal_resume);
 * without, path must not exist (SHP_ERR_WRITE as shp_journal_create).
 * Nothing is kept: the run or calibration takes the journal itself. */
int shp_journal_probe(const char *path, bool existing);

/* Append one record (a JSON object, borrowed) as one line: written whole
 * and fsync'd before this returns. SHP_ERR_WRITE on a write or sync failure
 * (the journal is then unusable), SHP_ERR_INVALID for a non-object or NULL
 * (a record that could not be built), SHP_ERR_NOMEM. */
int shp_journal_append(shp_journal *j, json_t *record);

/* Append one record written to the file (the kernel has it: a killed
 * process loses nothing) before this returns, and synced to disk with the
 * next shp_journal_append or at the latest a second later: for records as
 * frequent as every software ramp step. Errors as shp_journal_append. */
int shp_journal_append_unsynced(shp_journal *j, json_t *record);

/* Sync, unlock and close. NULL is a no-op. Returns SHP_OK or
 * SHP_ERR_WRITE. */
int shp_journal_close(shp_journal *j);

const char *shp_journal_path(const shp_journal *j);

/* Read every record of a journal into *records (a new JSON array, the
 * caller's reference). The file is read through shp_file_open_read with
 * SHP_FILE_MAX_JOURNAL, lines are bounded by SHP_JOURNAL_MAX_LINE.
 * *valid_bytes is the length of the whole records; *torn (may be NULL)
 * tells whether an unterminated final line was left out. Errors:
 * SHP_ERR_FILE (not a regular file, too large, unreadable), SHP_ERR_PARSE
 * "PATH:LINE: ..." for a complete line that is not a JSON object or a line
 * that is too long. */
int shp_journal_read(const char *path, json_t **records, size_t *valid_bytes,
                     bool *torn);

/* Any bytes as a JSON string (a new reference): valid UTF-8 is kept, each
 * byte that is not part of a valid sequence becomes U+FFFD, so a Latin-1
 * degree sign in an instrument's error text cannot drop a record. NULL
 * gives JSON null. Returns NULL only when out of memory. */
json_t *shp_journal_string(const char *bytes);

/* A number as JSON: non-finite values, which JSON cannot hold, are null. */
json_t *shp_journal_number(double x);

/* The SHA-256 of len bytes (FIPS 180-4), in out. */
void shp_sha256(const void *data, size_t len, unsigned char out[32]);

/* The SHA-256 of a file's bytes as 64 lowercase hex digits and a NUL, the
 * file read through shp_file_read (a regular file of at most max_bytes).
 * Errors: those of shp_file_read. */
int shp_sha256_file(const char *path, size_t max_bytes, char hex[65]);

/* The present time in UTC as ISO 8601 ("2026-11-25T14:03:11Z"), or with
 * compact for file names ("20261125T140311Z"), for the records and files
 * that say when they were made. */
#define SHP_TIMESTAMP_SIZE 32
void shp_utc_timestamp(char buf[SHP_TIMESTAMP_SIZE], bool compact);

#ifdef __cplusplus
}
#endif
#endif
