#include "shp/yamlfile.h"

#include "shp/error.h"
#include "shp/file.h"
#include "shp/numbers.h"

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

/* Bounds of every YAML file (DESIGN.md, bounded inputs). The files this
 * toolkit reads nest four or five levels; 64 leaves room for any hand-made
 * layout while keeping libyaml's work linear (its scanner and loader slow
 * down quadratically with depth: 60 000 levels took seconds). */
#define YAML_MAX_DEPTH 64

static void set_syntax_error(const yaml_parser_t *parser, const char *name) {
  shp_error_set(
      SHP_ERR_PARSE, "%s:%zu: %s%s%s", name, parser->problem_mark.line + 1,
      parser->problem ? parser->problem : "invalid YAML",
      parser->context ? " " : "", parser->context ? parser->context : "");
}

/* Every line is at most SHP_FILE_MAX_LINE bytes long. */
static int check_lines(const char *name, const char *text, size_t len) {
  size_t line = 1, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '\n')
      continue;
    if (i - start > SHP_FILE_MAX_LINE)
      return shp_error_set(SHP_ERR_PARSE, "%s:%zu: line longer than %zu bytes",
                           name, line, SHP_FILE_MAX_LINE);
    line++;
    start = i + 1;
  }
  return SHP_OK;
}

/* Where the event pass stands: one frame per open collection, so a
 * refusal names the key path as the readers do ("crystals[2].length_mm"). */
typedef struct {
  bool mapping;
  bool expect_key; /* mappings: the next scalar or collection is a key */
  size_t index;    /* sequences: the item being read */
  char key[64];    /* mappings: the key whose value is being read */
} frame;

static void frame_path(char *buf, size_t size, const frame *f, size_t depth) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t d = 0; d < depth && used < size; d++) {
    int w;
    if (f[d].mapping && f[d].expect_key)
      break; /* a key itself: the path ends at its mapping */
    if (f[d].mapping)
      w = snprintf(buf + used, size - used, "%s%s", used ? "." : "", f[d].key);
    else
      w = snprintf(buf + used, size - used, "[%zu]", f[d].index);
    if (w < 0)
      break;
    used += (size_t)w;
  }
}

static int refuse_at(const char *name, const yaml_event_t *ev, const frame *f,
                     size_t depth, const char *what) {
  char path[256];
  frame_path(path, sizeof path, f, depth);
  size_t line = ev->start_mark.line + 1;
  if (path[0] != '\0')
    return shp_error_set(SHP_ERR_PARSE, "%s:%zu: %s: %s", name, line, path,
                         what);
  return shp_error_set(SHP_ERR_PARSE, "%s:%zu: %s", name, line, what);
}

/* A node (scalar or collection) has been read in the innermost frame. */
static void frame_advance(frame *f, size_t depth, const yaml_event_t *ev) {
  if (depth == 0)
    return;
  frame *top = &f[depth - 1];
  if (!top->mapping) {
    top->index++;
    return;
  }
  if (top->expect_key && ev->type == YAML_SCALAR_EVENT)
    snprintf(top->key, sizeof top->key, "%s",
             (const char *)ev->data.scalar.value);
  else if (top->expect_key)
    snprintf(top->key, sizeof top->key, "?");
  top->expect_key = !top->expect_key;
}

/* What the document loader would accept but these files must not hold,
 * checked on libyaml's event stream before any document is built: a depth
 * beyond YAML_MAX_DEPTH, more than one document, explicit tags ("!!str 4.0"
 * would turn a number into a string behind the reader's back), anchors and
 * aliases (a few lines of aliases expand into billions of nodes). */
static int check_events(yaml_parser_t *parser, const char *name) {
  frame f[YAML_MAX_DEPTH];
  size_t depth = 0, documents = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(parser, &ev)) {
      set_syntax_error(parser, name);
      return SHP_ERR_PARSE;
    }
    int rc = SHP_OK;
    const yaml_char_t *tag = NULL, *anchor = NULL;
    bool node = false;
    switch (ev.type) {
    case YAML_DOCUMENT_START_EVENT:
      if (++documents > 1)
        rc = shp_error_set(SHP_ERR_PARSE,
                           "%s:%zu: a second YAML document; one document per "
                           "file",
                           name, ev.start_mark.line + 1);
      break;
    case YAML_ALIAS_EVENT:
      rc = refuse_at(name, &ev, f, depth,
                     "YAML aliases (*name) are not supported");
      break;
    case YAML_SCALAR_EVENT:
      tag = ev.data.scalar.tag;
      anchor = ev.data.scalar.anchor;
      node = true;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
      tag = ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                                 : ev.data.mapping_start.tag;
      anchor = ev.type == YAML_SEQUENCE_START_EVENT
                   ? ev.data.sequence_start.anchor
                   : ev.data.mapping_start.anchor;
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      if (depth > 0)
        depth--;
      node = true;
      break;
    default:
      break;
    }
    if (rc == SHP_OK && tag != NULL)
      rc = refuse_at(name, &ev, f, depth,
                     "explicit YAML tags are not supported");
    if (rc == SHP_OK && anchor != NULL)
      rc = refuse_at(name, &ev, f, depth,
                     "YAML anchors (&name) are not supported");
    if (rc == SHP_OK && (ev.type == YAML_SEQUENCE_START_EVENT ||
                         ev.type == YAML_MAPPING_START_EVENT)) {
      if (depth == YAML_MAX_DEPTH)
        rc =
            shp_error_set(SHP_ERR_PARSE, "%s:%zu: nested deeper than %d levels",
                          name, ev.start_mark.line + 1, YAML_MAX_DEPTH);
      else
        f[depth++] = (frame){.mapping = ev.type == YAML_MAPPING_START_EVENT,
                             .expect_key = true};
    }
    if (node)
      frame_advance(f, depth, &ev);
    bool end = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (rc != SHP_OK)
      return rc;
    if (end)
      return SHP_OK;
  }
}

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
    set_syntax_error(parser, name);
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
  char *text;
  size_t len;
  if (shp_file_read(path, SHP_FILE_MAX_TEXT, &text, &len) != SHP_OK)
    return NULL;
  shp_yaml *y = shp_yaml_load_string(path, text, len);
  free(text);
  return y;
}

/* libyaml reads the text twice: once as events to enforce the bounds, then
 * into a document. */
shp_yaml *shp_yaml_load_string(const char *name, const char *text, size_t len) {
  if (check_lines(name, text, len) != SHP_OK)
    return NULL;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    shp_error_set(SHP_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = check_events(&parser, name);
  yaml_parser_delete(&parser);
  if (rc != SHP_OK)
    return NULL;
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
  /* In the C locale whatever the process's: "4.0" is 4 under de_DE too. */
  double v = shp_strtod(s, &end);
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
  int rc = shp_yaml_as_string(y, v, ctx, key, out);
  /* "name:" and "material: \"\"" state nothing: a required key left empty
   * is as missing as an absent one. */
  if (rc == SHP_OK && (*out)[0] == '\0')
    return shp_yaml_fail(y, v, ctx, key, "must not be empty");
  return rc;
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
