/* The journal format on its own: SHA-256 against the FIPS 180-2 vectors,
 * any bytes made valid UTF-8, one locked writer, atomic creation, and a
 * reader that tells a torn tail from a damaged line and refuses what is
 * not a journal file within a bounded time. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shp/error.h"
#include "shp/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void hex_of(const unsigned char d[32], char out[65]) {
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* FIPS 180-2 appendix B: "abc", the two-block message, a million "a"; and
 * the empty message. */
static void test_sha256_matches_the_fips_vectors(void **state) {
  (void)state;
  unsigned char d[32];
  char hex[65];
  shp_sha256("abc", 3, d);
  hex_of(d, hex);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  shp_sha256(two, strlen(two), d);
  hex_of(d, hex);
  assert_string_equal(
      hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *million = malloc(1000000);
  assert_non_null(million);
  memset(million, 'a', 1000000);
  shp_sha256(million, 1000000, d);
  free(million);
  hex_of(d, hex);
  assert_string_equal(
      hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  shp_sha256("", 0, d);
  hex_of(d, hex);
  assert_string_equal(
      hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void expect_text(const char *in, const char *want) {
  json_t *s = shp_journal_string(in);
  assert_non_null(s);
  assert_string_equal(json_string_value(s), want);
  json_decref(s);
}

/* A Latin-1 degree sign, overlong forms, surrogates, code points past
 * U+10FFFF and cut sequences each become U+FFFD; valid text stays. */
static void test_journal_string_makes_any_bytes_valid(void **state) {
  (void)state;
  expect_text("25 \xC2\xB0"
              "C ok",
              "25 \xC2\xB0"
              "C ok");
  expect_text("reading 25\xB0"
              "C",
              "reading 25\xEF\xBF\xBD"
              "C");
  expect_text("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");
  expect_text("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  expect_text("\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                                  "\xEF\xBF\xBD");
  expect_text("end \xE2\x82", "end \xEF\xBF\xBD\xEF\xBF\xBD");
  expect_text("\xF0\x9F\x94\xA5", "\xF0\x9F\x94\xA5");
  json_t *n = shp_journal_string(NULL);
  assert_true(json_is_null(n));
  json_t *x = shp_journal_number(NAN);
  assert_true(json_is_null(x));
  x = shp_journal_number(INFINITY);
  assert_true(json_is_null(x));
  x = shp_journal_number(2.5);
  assert_true(json_real_value(x) == 2.5);
  json_decref(x);
}

static char *temp_dir(void) {
  char *d = strdup("/tmp/shp-journal-XXXXXX");
  assert_non_null(d);
  assert_non_null(mkdtemp(d));
  return d;
}

static size_t entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* Created with its first record and nothing else beside it; never
 * overwritten; held by one open at a time, in this process too, with the
 * holder named; free again once closed. */
static void test_journal_has_one_locked_writer(void **state) {
  (void)state;
  char *dir = temp_dir(), path[64];
  snprintf(path, sizeof path, "%s/run.jsonl", dir);
  json_t *first = json_pack("{s:s, s:i}", "type", "start", "n", 1);
  shp_journal *j = shp_journal_create(path, first);
  assert_non_null(j);
  assert_int_equal(entries(dir), 1); /* no temporary file left */
  json_t *recs;
  size_t valid;
  bool torn;
  assert_int_equal(shp_journal_read(path, &recs, &valid, &torn), SHP_OK);
  assert_int_equal(json_array_size(recs), 1);
  assert_true(json_equal(json_array_get(recs, 0), first));
  json_decref(recs);

  assert_null(shp_journal_create(path, first));
  assert_int_equal(shp_error_last(), SHP_ERR_WRITE);
  assert_non_null(strstr(shp_error_detail(), "never overwritten"));

  assert_null(shp_journal_resume(path, &recs, NULL));
  assert_int_equal(shp_error_last(), SHP_ERR_BUSY);
  char want[300];
  snprintf(want, sizeof want, "%s: in use by another process (pid %ld)", path,
           (long)getpid());
  assert_string_equal(shp_error_detail(), want);
  assert_null(recs);

  json_t *rec = json_pack("{s:s}", "type", "measure");
  assert_int_equal(shp_journal_append_unsynced(j, rec), SHP_OK);
  json_decref(rec);
  assert_int_equal(shp_journal_close(j), SHP_OK);
  j = shp_journal_resume(path, &recs, &torn);
  assert_non_null(j);
  assert_false(torn);
  assert_int_equal(json_array_size(recs), 2);
  json_decref(recs);
  /* A record that could not be built is an error, not a silent gap. */
  assert_int_equal(shp_journal_append(j, NULL), SHP_ERR_INVALID);
  assert_int_equal(shp_journal_close(j), SHP_OK);
  json_decref(first);
  unlink(path);
  rmdir(dir);
  free(dir);
}

/* Only an unterminated last line is torn, and resuming cuts it; a
 * complete line that does not parse is an error naming it, last or not. */
static void test_journal_torn_tail_and_damaged_line(void **state) {
  (void)state;
  char *dir = temp_dir(), path[64];
  snprintf(path, sizeof path, "%s/j.jsonl", dir);
  const char *torn_text = "{\"type\":\"start\"}\n{\"type\":\"mea";
  write_file(path, torn_text, strlen(torn_text));
  json_t *recs;
  size_t valid;
  bool torn;
  assert_int_equal(shp_journal_read(path, &recs, &valid, &torn), SHP_OK);
  assert_true(torn);
  assert_int_equal(valid, 17);
  assert_int_equal(json_array_size(recs), 1);
  json_decref(recs);
  /* Opened and closed without a record: left as it was. */
  shp_journal *j = shp_journal_resume(path, &recs, &torn);
  assert_non_null(j);
  assert_true(torn);
  json_decref(recs);
  assert_int_equal(shp_journal_close(j), SHP_OK);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((size_t)st.st_size, strlen(torn_text));
  /* The first record appended replaces the torn tail. */
  j = shp_journal_resume(path, &recs, &torn);
  assert_non_null(j);
  json_decref(recs);
  json_t *rec = json_pack("{s:s}", "type", "resume");
  assert_int_equal(shp_journal_append(j, rec), SHP_OK);
  json_decref(rec);
  assert_int_equal(shp_journal_close(j), SHP_OK);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 17 + 18);
  assert_int_equal(shp_journal_read(path, &recs, &valid, &torn), SHP_OK);
  assert_false(torn);
  assert_int_equal(json_array_size(recs), 2);
  json_decref(recs);

  const char *bad = "{\"type\":\"start\"}\n{\"type\":\"plan\"} junk\n";
  write_file(path, bad, strlen(bad));
  assert_int_equal(shp_journal_read(path, &recs, &valid, &torn), SHP_ERR_PARSE);
  char want[300];
  snprintf(want, sizeof want, "%s:2: not a journal record", path);
  assert_non_null(strstr(shp_error_detail(), want));
  assert_null(shp_journal_resume(path, &recs, &torn));
  assert_int_equal(shp_error_last(), SHP_ERR_PARSE);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((size_t)st.st_size, strlen(bad)); /* nothing cut */

  const char *array = "[1]\n";
  write_file(path, array, strlen(array));
  assert_int_equal(shp_journal_read(path, &recs, &valid, &torn), SHP_ERR_PARSE);
  unlink(path);
  rmdir(dir);
  free(dir);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* /dev/zero, a FIFO and a line past the bound are refused at once. */
static void test_journal_reader_is_bounded(void **state) {
  (void)state;
  double t0 = now_s();
  json_t *recs;
  size_t valid;
  assert_int_equal(shp_journal_read("/dev/zero", &recs, &valid, NULL),
                   SHP_ERR_FILE);
  assert_null(shp_journal_resume("/dev/zero", &recs, NULL));
  assert_int_equal(shp_error_last(), SHP_ERR_FILE);
  char *dir = temp_dir(), path[64];
  snprintf(path, sizeof path, "%s/fifo", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  assert_int_equal(shp_journal_read(path, &recs, &valid, NULL), SHP_ERR_FILE);
  assert_null(shp_journal_resume(path, &recs, NULL));
  assert_int_equal(shp_error_last(), SHP_ERR_FILE);
  assert_string_equal(strstr(shp_error_detail(), "not a regular file"),
                      "not a regular file");
  unlink(path);
  snprintf(path, sizeof path, "%s/long.jsonl", dir);
  size_t n = SHP_JOURNAL_MAX_LINE + 16;
  char *line = malloc(n);
  assert_non_null(line);
  memset(line, ' ', n);
  line[0] = '{';
  line[n - 2] = '}';
  line[n - 1] = '\n';
  write_file(path, line, n);
  free(line);
  assert_int_equal(shp_journal_read(path, &recs, &valid, NULL), SHP_ERR_PARSE);
  assert_non_null(strstr(shp_error_detail(), ":1: a line longer than"));
  unlink(path);
  rmdir(dir);
  free(dir);
  assert_true(now_s() - t0 < 5.0);
}

/* A temporary file left by a creator killed before naming its journal is
 * removed by the next create of that journal once it is a minute old; one
 * that is younger, or held, is left to its live creator. */
static void test_journal_create_removes_stale_temps(void **state) {
  (void)state;
  char *dir = temp_dir(), path[64], stale[96], held[96], young[96];
  snprintf(path, sizeof path, "%s/run.jsonl", dir);
  snprintf(stale, sizeof stale, "%s/.run.jsonl.tmp-aaaaaa", dir);
  snprintf(held, sizeof held, "%s/.run.jsonl.tmp-bbbbbb", dir);
  snprintf(young, sizeof young, "%s/.run.jsonl.tmp-cccccc", dir);
  write_file(stale, "{", 1);
  write_file(held, "{", 1);
  write_file(young, "{", 1);
  struct timespec old[2] = {{.tv_sec = time(NULL) - 3600},
                            {.tv_sec = time(NULL) - 3600}};
  assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
  assert_int_equal(utimensat(AT_FDCWD, held, old, 0), 0);
  int fd = open(held, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX), 0);
  json_t *first = json_pack("{s:s}", "type", "start");
  shp_journal *j = shp_journal_create(path, first);
  json_decref(first);
  assert_non_null(j);
  assert_int_equal(shp_journal_close(j), SHP_OK);
  struct stat st;
  assert_int_equal(stat(stale, &st), -1);
  assert_int_equal(stat(held, &st), 0);
  assert_int_equal(stat(young, &st), 0);
  close(fd);
  unlink(held);
  unlink(young);
  unlink(path);
  rmdir(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_matches_the_fips_vectors),
      cmocka_unit_test(test_journal_string_makes_any_bytes_valid),
      cmocka_unit_test(test_journal_has_one_locked_writer),
      cmocka_unit_test(test_journal_torn_tail_and_damaged_line),
      cmocka_unit_test(test_journal_reader_is_bounded),
      cmocka_unit_test(test_journal_create_removes_stale_temps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
