#include "yaml-write.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The shortest decimal that reads back as the same double, so a file that
 * is written and read again gives identical numbers. */
static void format_number(char *buf, size_t size, double v) {
  shp_format_shortest(buf, size, v);
  /* Keep a decimal point so YAML readers see a float. */
  if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 3 < size)
    strcat(buf, ".0");
}

static void emit(shp_yaml_writer *w, yaml_event_t *ev) {
  if (w->ok && !yaml_emitter_emit(&w->em, ev))
    w->ok = false;
}

void shp_yw_scalar(shp_yaml_writer *w, const char *text, bool plain) {
  yaml_event_t ev;
  yaml_scalar_event_initialize(
      &ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
      plain ? YAML_PLAIN_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
  emit(w, &ev);
}

void shp_yw_key_string(shp_yaml_writer *w, const char *key, const char *value) {
  shp_yw_scalar(w, key, true);
  shp_yw_scalar(w, value, false);
}

void shp_yw_key_number(shp_yaml_writer *w, const char *key, double v) {
  char buf[64];
  format_number(buf, sizeof buf, v);
  shp_yw_scalar(w, key, true);
  shp_yw_scalar(w, buf, true);
}

void shp_yw_key_size(shp_yaml_writer *w, const char *key, size_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%zu", v);
  shp_yw_scalar(w, key, true);
  shp_yw_scalar(w, buf, true);
}

void shp_yw_key_text(shp_yaml_writer *w, const char *key, const char *text) {
  shp_yw_scalar(w, key, true);
  yaml_event_t ev;
  yaml_scalar_event_initialize(
      &ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
      strchr(text, '\n') ? YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
  emit(w, &ev);
}

void shp_yw_mapping(shp_yaml_writer *w, bool start, bool flow) {
  yaml_event_t ev;
  if (start)
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        flow ? YAML_FLOW_MAPPING_STYLE
                                             : YAML_BLOCK_MAPPING_STYLE);
  else
    yaml_mapping_end_event_initialize(&ev);
  emit(w, &ev);
}

void shp_yw_sequence(shp_yaml_writer *w, bool start, bool flow) {
  yaml_event_t ev;
  if (start)
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                         flow ? YAML_FLOW_SEQUENCE_STYLE
                                              : YAML_BLOCK_SEQUENCE_STYLE);
  else
    yaml_sequence_end_event_initialize(&ev);
  emit(w, &ev);
}

static int write_to(FILE *f, const char *path, shp_yw_document_fn fn,
                    const void *doc) {
  shp_yaml_writer w = {.ok = true};
  if (!yaml_emitter_initialize(&w.em))
    return shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
  yaml_emitter_set_output_file(&w.em, f);
  yaml_emitter_set_unicode(&w.em, 1);
  yaml_emitter_set_width(&w.em, 100);
  yaml_event_t ev;
  yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
  emit(&w, &ev);
  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
  emit(&w, &ev);
  fn(&w, doc);
  yaml_document_end_event_initialize(&ev, 1);
  emit(&w, &ev);
  yaml_stream_end_event_initialize(&ev);
  emit(&w, &ev);
  int ok = w.ok && yaml_emitter_flush(&w.em);
  yaml_emitter_delete(&w.em);
  if (!ok)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write", path);
  return SHP_OK;
}

typedef struct {
  const char *path;
  shp_yw_document_fn fn;
  const void *doc;
} save_job;

static int fill(FILE *f, void *user) {
  const save_job *job = user;
  return write_to(f, job->path, job->fn, job->doc);
}

int shp_yw_save(const char *path, shp_yw_document_fn fn, const void *doc) {
  save_job job = {path, fn, doc};
  return shp_file_write_atomic(path, fill, &job);
}
