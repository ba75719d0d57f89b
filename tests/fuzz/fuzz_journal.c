/* libFuzzer harness of the journal reader, the path a resume takes
 * (shp_journal_read, shp_journal_resume and the first append after it),
 * and of shp_journal_string. The input is the journal file's bytes.
 *
 * Besides "no crash, no overread, no undefined behaviour" it checks that
 * reading returns SHP_OK or SHP_ERR_PARSE with a message naming the file;
 * that what it keeps is whole lines, every one an object, and a torn tail
 * only when the input does not end in a newline; that resuming agrees with
 * reading and its first append leaves a journal of one more record with
 * no torn tail; and that any bytes make a JSON string that encodes. */
#include "shp/error.h"
#include "shp/journal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

static void write_input(const uint8_t *data, size_t size) {
  if (dir[0] == '\0') {
    snprintf(dir, sizeof dir, "/tmp/fuzz-journal-XXXXXX");
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(path, sizeof path, "%s/j.jsonl", dir);
  }
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
    abort();
}

static void check_error(int rc) {
  if (rc != SHP_ERR_PARSE || strstr(shp_error_detail(), path) == NULL)
    abort();
}

/* The records read, or NULL after checking the error. */
static json_t *read_checked(size_t size, size_t *valid, bool *torn) {
  json_t *recs;
  int rc = shp_journal_read(path, &recs, valid, torn);
  if (rc != SHP_OK) {
    check_error(rc);
    if (recs != NULL)
      abort();
    return NULL;
  }
  if (*valid > size || (*torn && *valid == size) || (!*torn && *valid != size))
    abort();
  for (size_t k = 0; k < json_array_size(recs); k++)
    if (!json_is_object(json_array_get(recs, k)))
      abort();
  return recs;
}

static void check_resume(size_t count, size_t valid) {
  json_t *recs;
  bool torn;
  shp_journal *j = shp_journal_resume(path, &recs, &torn);
  if (j == NULL || json_array_size(recs) != count)
    abort();
  json_decref(recs);
  json_t *rec = json_pack("{s:s}", "type", "fuzz");
  if (shp_journal_append(j, rec) != SHP_OK || shp_journal_close(j) != SHP_OK)
    abort();
  json_decref(rec);
  size_t after;
  if (shp_journal_read(path, &recs, &after, &torn) != SHP_OK || torn ||
      json_array_size(recs) != count + 1 || after != valid + 16)
    abort();
  json_decref(recs);
}

static void check_string(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    return;
  memcpy(s, data, size);
  s[size] = '\0';
  json_t *j = shp_journal_string(s);
  free(s);
  if (j == NULL)
    abort();
  char *text = json_dumps(j, JSON_ENCODE_ANY);
  if (text == NULL)
    abort();
  json_error_t err;
  json_t *back = json_loads(text, JSON_DECODE_ANY, &err);
  if (back == NULL || !json_equal(back, j))
    abort();
  json_decref(back);
  free(text);
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  shp_error_clear();
  write_input(data, size);
  size_t valid;
  bool torn;
  json_t *recs = read_checked(size, &valid, &torn);
  if (recs != NULL) {
    size_t count = json_array_size(recs);
    json_decref(recs);
    check_resume(count, valid);
  } else {
    json_t *none;
    if (shp_journal_resume(path, &none, NULL) != NULL)
      abort();
    check_error(shp_error_last());
  }
  check_string(data, size);
  return 0;
}
