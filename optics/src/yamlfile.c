#include "shp/yamlfile.h"

#include "shp/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct shp_yaml {
  yaml_document_t doc;
  char *path;
};

static shp_yaml *load_with(yaml_parser_t *parser, const char *name) {
  shp_yaml *y = calloc(1, sizeof *y);
  if (y == NULL) {
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  y->path = strdup(name);
  if (y->path == NULL) {
    free(y);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  if (!yaml_parser_load(parser, &y->doc)) {
    shp_error_set(
        SHP_ERR_PARSE, "%s:%zu: %s%s%s", name, parser->problem_mark.line + 1,
        parser->problem ? parser->problem : "invalid YAML",
        parser->context ? " " : "", parser->context ? parser->context : "");
    free(y->path);
    free(y);
    return NULL;
  }
  if (yaml_document_get_root_node(&y->doc) == NULL) {
    shp_error_set(SHP_ERR_PARSE, "%s:1: the file is empty", name);
    shp_yaml_free(y);
    return NULL;
  }
  return y;
}

shp_yaml *shp_yaml_load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    shp_error_set(SHP_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    fclose(f);
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  yaml_parser_set_input_file(&parser, f);
  shp_yaml *y = load_with(&parser, path);
  yaml_parser_delete(&parser);
  fclose(f);
  return y;
}

shp_yaml *shp_yaml_load_string(const char *name, const char *text, size_t len) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  shp_yaml *y = load_with(&parser, name);
  yaml_parser_delete(&parser);
  return y;
}

void shp_yaml_free(shp_yaml *y) {
  if (y == NULL)
    return;
  yaml_document_delete(&y->doc);
  free(y->path);
  free(y);
}

const char *shp_yaml_path(const shp_yaml *y) { return y->path; }

yaml_node_t *shp_yaml_root(shp_yaml *y) {
  return yaml_document_get_root_node(&y->doc);
}

int shp_yaml_line(const yaml_node_t *node) {
  return node ? (int)node->start_mark.line + 1 : 0;
}

void shp_yaml_key_name(char *buf, size_t size, const char *ctx,
                       const char *key) {
  if (ctx == NULL || ctx[0] == '\0')
    snprintf(buf, size, "%s", key ? key : "");
  else if (key == NULL || key[0] == '\0')
    snprintf(buf, size, "%s", ctx);
  else
    snprintf(buf, size, "%s.%s", ctx, key);
}

static int vfail(int code, const shp_yaml *y, const yaml_node_t *node,
                 const char *ctx, const char *key, const char *fmt,
                 va_list ap) {
  char what[512], name[256];
  vsnprintf(what, sizeof what, fmt, ap);
  shp_yaml_key_name(name, sizeof name, ctx, key);
  if (name[0] != '\0')
    return shp_error_set(code, "%s:%d: %s: %s", y->path, shp_yaml_line(node),
                         name, what);
  return shp_error_set(code, "%s:%d: %s", y->path, shp_yaml_line(node), what);
}

int shp_yaml_fail(const shp_yaml *y, const yaml_node_t *node, const char *ctx,
                  const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(SHP_ERR_PARSE, y, node, ctx, key, fmt, ap);
  va_end(ap);
  return rc;
}

int shp_yaml_fail_code(int code, const shp_yaml *y, const yaml_node_t *node,
                       const char *ctx, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(code, y, node, ctx, key, fmt, ap);
  va_end(ap);
  return rc;
}

static const char *kind_name(const yaml_node_t *node) {
  switch (node->type) {
  case YAML_SCALAR_NODE:
    return "a scalar";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_MAPPING_NODE:
    return "a mapping";
  default:
    return "nothing";
  }
}

int shp_yaml_expect_mapping(const shp_yaml *y, const yaml_node_t *node,
                            const char *ctx, const char *key) {
  if (node->type != YAML_MAPPING_NODE)
    return shp_yaml_fail(y, node, ctx, key, "expected a mapping, got %s",
                         kind_name(node));
  return SHP_OK;
}

int shp_yaml_expect_sequence(const shp_yaml *y, const yaml_node_t *node,
                             const char *ctx, const char *key) {
  if (node->type != YAML_SEQUENCE_NODE)
    return shp_yaml_fail(y, node, ctx, key, "expected a list, got %s",
                         kind_name(node));
  return SHP_OK;
}

static const char *scalar_text(const yaml_node_t *node) {
  return (const char *)node->data.scalar.value;
}

int shp_yaml_check_keys(shp_yaml *y, yaml_node_t *mapping, const char *ctx,
                        const char *const *allowed) {
  int rc = shp_yaml_expect_mapping(y, mapping, ctx, NULL);
  if (rc != SHP_OK)
    return rc;
  for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start;
       p < mapping->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
    if (k->type != YAML_SCALAR_NODE)
      return shp_yaml_fail(y, k, ctx, NULL, "keys must be plain names");
    const char *name = scalar_text(k);
    bool known = false;
    for (const char *const *a = allowed; *a != NULL; a++)
      if (strcmp(*a, name) == 0)
        known = true;
    if (!known)
      return shp_yaml_fail(y, k, ctx, name, "unknown key");
    for (yaml_node_pair_t *q = mapping->data.mapping.pairs.start; q < p; q++) {
      yaml_node_t *k2 = yaml_document_get_node(&y->doc, q->key);
      if (k2->type == YAML_SCALAR_NODE && strcmp(scalar_text(k2), name) == 0)
        return shp_yaml_fail(y, k, ctx, name,
                             "duplicate key (first on line %d)",
                             shp_yaml_line(k2));
    }
  }
  return SHP_OK;
}

yaml_node_t *shp_yaml_get(shp_yaml *y, yaml_node_t *mapping, const char *key) {
  if (mapping == NULL || mapping->type != YAML_MAPPING_NODE)
    return NULL;
  for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start;
       p < mapping->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
    if (k->type == YAML_SCALAR_NODE && strcmp(scalar_text(k), key) == 0)
      return yaml_document_get_node(&y->doc, p->value);
  }
  return NULL;
}

size_t shp_yaml_seq_count(const yaml_node_t *seq) {
  if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
    return 0;
  return (size_t)(seq->data.sequence.items.top -
                  seq->data.sequence.items.start);
}

yaml_node_t *shp_yaml_seq_item(shp_yaml *y, yaml_node_t *seq, size_t i) {
  if (i >= shp_yaml_seq_count(seq))
    return NULL;
  return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

static bool is_plain(const yaml_node_t *node) {
  return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
         node->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

int shp_yaml_as_number(const shp_yaml *y, const yaml_node_t *node,
                       const char *ctx, const char *key, double *out) {
  if (node->type != YAML_SCALAR_NODE)
    return shp_yaml_fail(y, node, ctx, key, "expected a number, got %s",
                         kind_name(node));
  const char *s = scalar_text(node);
  if (!is_plain(node))
    return shp_yaml_fail(y, node, ctx, key,
                         "expected a number, got the quoted string \"%s\"", s);
  /* YAML 1.1 spells the special floats .nan and .inf; none is a usable
   * physical quantity, so they are refused here with their own message. */
  if (strcasecmp(s, ".nan") == 0 || strcasecmp(s, "nan") == 0 ||
      strcasecmp(s, ".inf") == 0 || strcasecmp(s, "-.inf") == 0 ||
      strcasecmp(s, "+.inf") == 0 || strcasecmp(s, "inf") == 0)
    return shp_yaml_fail(y, node, ctx, key, "must be a finite number, got %s",
                         s);
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || s[0] == '\0')
    return shp_yaml_fail(y, node, ctx, key, "expected a number, got \"%s\"", s);
  if (errno == ERANGE || !isfinite(v))
    return shp_yaml_fail(y, node, ctx, key, "must be a finite number, got %s",
                         s);
  *out = v;
  return SHP_OK;
}

int shp_yaml_as_string(const shp_yaml *y, const yaml_node_t *node,
                       const char *ctx, const char *key, const char **out) {
  if (node->type != YAML_SCALAR_NODE)
    return shp_yaml_fail(y, node, ctx, key, "expected a string, got %s",
                         kind_name(node));
  *out = scalar_text(node);
  return SHP_OK;
}

int shp_yaml_as_bool(const shp_yaml *y, const yaml_node_t *node,
                     const char *ctx, const char *key, bool *out) {
  if (node->type == YAML_SCALAR_NODE && is_plain(node)) {
    const char *s = scalar_text(node);
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
      *out = true;
      return SHP_OK;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
      *out = false;
      return SHP_OK;
    }
    return shp_yaml_fail(y, node, ctx, key,
                         "expected true or false, got \"%s\"", s);
  }
  return shp_yaml_fail(y, node, ctx, key, "expected true or false, got %s",
                       kind_name(node));
}

static int missing(shp_yaml *y, yaml_node_t *map, const char *ctx,
                   const char *key) {
  return shp_yaml_fail(y, map, ctx, key, "missing required key");
}

int shp_yaml_number(shp_yaml *y, yaml_node_t *map, const char *ctx,
                    const char *key, double *out) {
  yaml_node_t *v = shp_yaml_get(y, map, key);
  if (v == NULL)
    return missing(y, map, ctx, key);
  return shp_yaml_as_number(y, v, ctx, key, out);
}

int shp_yaml_number_opt(shp_yaml *y, yaml_node_t *map, const char *ctx,
                        const char *key, double *out, bool *present) {
  yaml_node_t *v = shp_yaml_get(y, map, key);
  if (present != NULL)
    *present = v != NULL;
  if (v == NULL)
    return SHP_OK;
  return shp_yaml_as_number(y, v, ctx, key, out);
}

int shp_yaml_string(shp_yaml *y, yaml_node_t *map, const char *ctx,
                    const char *key, const char **out) {
  yaml_node_t *v = shp_yaml_get(y, map, key);
  if (v == NULL)
    return missing(y, map, ctx, key);
  return shp_yaml_as_string(y, v, ctx, key, out);
}

int shp_yaml_string_opt(shp_yaml *y, yaml_node_t *map, const char *ctx,
                        const char *key, const char **out, bool *present) {
  yaml_node_t *v = shp_yaml_get(y, map, key);
  if (present != NULL)
    *present = v != NULL;
  if (v == NULL)
    return SHP_OK;
  return shp_yaml_as_string(y, v, ctx, key, out);
}

int shp_yaml_bool_opt(shp_yaml *y, yaml_node_t *map, const char *ctx,
                      const char *key, bool *out, bool *present) {
  yaml_node_t *v = shp_yaml_get(y, map, key);
  if (present != NULL)
    *present = v != NULL;
  if (v == NULL)
    return SHP_OK;
  return shp_yaml_as_bool(y, v, ctx, key, out);
}

int shp_yaml_numbers(shp_yaml *y, yaml_node_t *map, const char *ctx,
                     const char *key, double *out, size_t max, size_t *count) {
  yaml_node_t *v = shp_yaml_get(y, map, key);
  if (v == NULL)
    return missing(y, map, ctx, key);
  int rc = shp_yaml_expect_sequence(y, v, ctx, key);
  if (rc != SHP_OK)
    return rc;
  size_t n = shp_yaml_seq_count(v);
  if (n > max)
    return shp_yaml_fail(y, v, ctx, key, "at most %zu numbers, got %zu", max,
                         n);
  for (size_t i = 0; i < n; i++) {
    char item[64];
    snprintf(item, sizeof item, "%s[%zu]", key, i);
    rc = shp_yaml_as_number(y, shp_yaml_seq_item(y, v, i), ctx, item, &out[i]);
    if (rc != SHP_OK)
      return rc;
  }
  *count = n;
  return SHP_OK;
}
