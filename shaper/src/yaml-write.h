/* Writing YAML documents with libyaml's emitter, shared by the stack and
 * calibration writers: numbers that read back as the same double, and
 * files replaced atomically (a temporary file, fsync'd, then renamed). */
#ifndef SHP_YAML_WRITE_H
#define SHP_YAML_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

typedef struct {
  yaml_emitter_t em;
  bool ok; /* false after the first failed event */
} shp_yaml_writer;

void shp_yw_scalar(shp_yaml_writer *w, const char *text, bool plain);
void shp_yw_key_string(shp_yaml_writer *w, const char *key, const char *value);
void shp_yw_key_number(shp_yaml_writer *w, const char *key, double v);
void shp_yw_key_size(shp_yaml_writer *w, const char *key, size_t v);
/* Multi-line text as a literal block (|). */
void shp_yw_key_text(shp_yaml_writer *w, const char *key, const char *text);
void shp_yw_mapping(shp_yaml_writer *w, bool start, bool flow);
void shp_yw_sequence(shp_yaml_writer *w, bool start, bool flow);

/* Write one document to path ("-": standard output) through fn, which
 * emits the document's root node. Without an error the file is replaced
 * whole; with one it is left as it was. Errors: SHP_ERR_IO, SHP_ERR_NOMEM. */
typedef void (*shp_yw_document_fn)(shp_yaml_writer *w, const void *doc);
int shp_yw_save(const char *path, shp_yw_document_fn fn, const void *doc);

#endif
