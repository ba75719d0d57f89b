/* Run journals: JSON Lines, one record a line, each flushed to disk
 * (fsync) before the step it records is acted on, so a crash or a power
 * loss loses at most the step under way and never tears a record.
 *
 * A journal is created once and never overwritten; a resumed run appends
 * to it. Reading keeps every whole record and reports a torn final line
 * (what a power loss mid-write leaves), which opening for append cuts off.
 * Records are Jansson objects; the meaning of their fields belongs to the
 * writer (the closed loop, calibration). */
#ifndef SHP_JOURNAL_H
#define SHP_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shp_journal shp_journal;

/* Create a new journal at path; an existing file is never overwritten
 * (SHP_ERR_IO "exists"). Returns NULL with shp_error_detail(). Owned by the
 * caller: shp_journal_close. */
shp_journal *shp_journal_create(const char *path);

/* Open an existing journal to append to, first cutting it to its whole
 * records (valid_bytes, from shp_journal_read). */
shp_journal *shp_journal_open_append(const char *path, size_t valid_bytes);

/* Append one record (a JSON object, borrowed) as one line: written whole
 * and fsync'd before this returns. SHP_ERR_IO on a write or sync failure
 * (the journal is then unusable), SHP_ERR_INVALID for a non-object. */
int shp_journal_append(shp_journal *j, json_t *record);

/* Sync and close. NULL is a no-op. Returns SHP_OK or SHP_ERR_IO. */
int shp_journal_close(shp_journal *j);

const char *shp_journal_path(const shp_journal *j);

/* Read every record of a journal into *records (a new JSON array, the
 * caller's reference). *valid_bytes is the length of the whole records;
 * *torn (may be NULL) tells whether a final partial line was left out.
 * Errors: SHP_ERR_IO, SHP_ERR_PARSE naming the file and line of a record
 * that is not a JSON object (other than a torn last line). */
int shp_journal_read(const char *path, json_t **records, size_t *valid_bytes,
                     bool *torn);

/* The present time in UTC as ISO 8601 ("2026-11-25T14:03:11Z"), or with
 * compact for file names ("20261125T140311Z"), for the records and files
 * that say when they were made. */
#define SHP_TIMESTAMP_SIZE 32
void shp_utc_timestamp(char buf[SHP_TIMESTAMP_SIZE], bool compact);

#ifdef __cplusplus
}
#endif
#endif
