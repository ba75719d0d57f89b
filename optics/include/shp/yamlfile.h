/* Reading human-written YAML files (stacks, targets, labs, materials) with
 * messages that name the file, the line and the key:
 *
 *   fan4.yml:14: crystals[3].azimuth_deg: expected a number, got "abc"
 *
 * A thin layer over libyaml's document API. Node pointers are owned by the
 * document and live until shp_yaml_free. */
#ifndef SHP_YAMLFILE_H
#define SHP_YAMLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shp_yaml shp_yaml;

/* Load the one document of a file, read with shp_file_read (a regular file
 * of at most SHP_FILE_MAX_TEXT bytes). Returns NULL with shp_error_detail()
 * "PATH: ..." (SHP_ERR_FILE: cannot open, not a regular file, too large, a
 * NUL byte) or "PATH:LINE: ..." (SHP_ERR_PARSE). Refused as SHP_ERR_PARSE:
 * invalid YAML, an empty file, a line longer than SHP_FILE_MAX_LINE bytes,
 * collections nested deeper than 64 levels, a second document, explicit
 * tags ("!!str 4.0"), anchors and aliases. Owned by the caller:
 * shp_yaml_free. */
shp_yaml *shp_yaml_load(const char *path);
/* The same from memory (len bytes of text); name is used in messages. */
shp_yaml *shp_yaml_load_string(const char *name, const char *text, size_t len);
void shp_yaml_free(shp_yaml *y);

const char *shp_yaml_path(const shp_yaml *y);
yaml_node_t *shp_yaml_root(shp_yaml *y);
/* 1-based line of a node, for messages. */
int shp_yaml_line(const yaml_node_t *node);

/* A key name in context: ctx "crystals[2]" and key "length_mm" give
 * "crystals[2].length_mm"; an empty ctx gives the key alone. */
void shp_yaml_key_name(char *buf, size_t size, const char *ctx,
                       const char *key);

/* Record SHP_ERR_PARSE (or code) as "PATH:LINE: CTX.KEY: message". */
int shp_yaml_fail(const shp_yaml *y, const yaml_node_t *node, const char *ctx,
                  const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int shp_yaml_fail_code(int code, const shp_yaml *y, const yaml_node_t *node,
                       const char *ctx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Require that node is a mapping (or sequence) and name it in the error. */
int shp_yaml_expect_mapping(const shp_yaml *y, const yaml_node_t *node,
                            const char *ctx, const char *key);
int shp_yaml_expect_sequence(const shp_yaml *y, const yaml_node_t *node,
                             const char *ctx, const char *key);

/* Every key of mapping must be in allowed (NULL-terminated), appear once and
 * be a plain scalar. */
int shp_yaml_check_keys(shp_yaml *y, yaml_node_t *mapping, const char *ctx,
                        const char *const *allowed);

/* The value of key in mapping, or NULL when absent. */
yaml_node_t *shp_yaml_get(shp_yaml *y, yaml_node_t *mapping, const char *key);

/* Sequence access: count of items and item i. */
size_t shp_yaml_seq_count(const yaml_node_t *seq);
yaml_node_t *shp_yaml_seq_item(shp_yaml *y, yaml_node_t *seq, size_t i);

/* Scalars. The node-level readers check the type and name ctx.key in errors;
 * a number must be a plain (unquoted) finite number, read in the C locale
 * whatever the process's locale ("4.0" under de_DE too). */
int shp_yaml_as_number(const shp_yaml *y, const yaml_node_t *node,
                       const char *ctx, const char *key, double *out);
int shp_yaml_as_string(const shp_yaml *y, const yaml_node_t *node,
                       const char *ctx, const char *key, const char **out);
int shp_yaml_as_bool(const shp_yaml *y, const yaml_node_t *node,
                     const char *ctx, const char *key, bool *out);

/* Mapping members. The required readers fail with "missing required key"
 * (naming the mapping's line), and shp_yaml_string also with "must not be
 * empty" for "key:" or "key: \"\""; the optional ones leave *out alone and set
 * *present (which may be NULL) to false when the key is absent. */
int shp_yaml_number(shp_yaml *y, yaml_node_t *map, const char *ctx,
                    const char *key, double *out);
int shp_yaml_number_opt(shp_yaml *y, yaml_node_t *map, const char *ctx,
                        const char *key, double *out, bool *present);
int shp_yaml_string(shp_yaml *y, yaml_node_t *map, const char *ctx,
                    const char *key, const char **out);
int shp_yaml_string_opt(shp_yaml *y, yaml_node_t *map, const char *ctx,
                        const char *key, const char **out, bool *present);
int shp_yaml_bool_opt(shp_yaml *y, yaml_node_t *map, const char *ctx,
                      const char *key, bool *out, bool *present);
/* A sequence of numbers (flow [1, 2] or block), at most max items. */
int shp_yaml_numbers(shp_yaml *y, yaml_node_t *map, const char *ctx,
                     const char *key, double *out, size_t max, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
