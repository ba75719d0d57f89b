/* Unit tests of the YAML reader: what it accepts, and that every refusal
 * names the file, the line and the key path ("crystals[2].length_mm"), as
 * the stack-file contract of DESIGN.md requires. Documents are given inline
 * through shp_yaml_load_string, so each test shows its own input. */
#include "shp/error.h"
#include "shp/file.h"
#include "shp/yamlfile.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* The last failure has this code and its message contains every needle. */
#define assert_error(code, ...)                                                \
  assert_error_at((code), (const char *const[]){__VA_ARGS__, NULL}, __FILE__,  \
                  __LINE__)

static void assert_error_at(int code, const char *const *needles,
                            const char *file, int line) {
  const char *detail = shp_error_detail();
  if (shp_error_last() != code) {
    print_error("error %s, expected %s; message: %s\n",
                shp_error_name(shp_error_last()), shp_error_name(code), detail);
    _fail(file, line);
  }
  for (const char *const *n = needles; *n != NULL; n++)
    if (strstr(detail, *n) == NULL) {
      print_error("message \"%s\" lacks \"%s\"\n", detail, *n);
      _fail(file, line);
    }
}

static shp_yaml *parse(const char *name, const char *text) {
  shp_yaml *y = shp_yaml_load_string(name, text, strlen(text));
  if (y == NULL)
    fail_msg("%s", shp_error_detail());
  return y;
}

/* A stack file as scripts write it (DESIGN.md), with a bad third crystal. */
static const char stack_text[] = "name: fan-type Solc shaper\n" /* 1 */
                                 "crystals:\n"                  /* 2 */
                                 "  - material: alpha-BBO\n"    /* 3 */
                                 "    length_mm: 10.0\n"        /* 4 */
                                 "    azimuth_deg: 11.25\n"     /* 5 */
                                 "  - material: alpha-BBO\n"    /* 6 */
                                 "    azimuth_deg: -11.25\n"    /* 7 */
                                 "  # a comment line\n"         /* 8 */
                                 "  - material: alpha-BBO\n"    /* 9 */
                                 "    length_mm: abc\n"         /* 10 */
                                 "    azimuth_deg: [1, 2]\n"    /* 11 */
                                 "double_pass: yes\n";          /* 12 */

static yaml_node_t *crystal(shp_yaml *y, size_t i) {
  yaml_node_t *list = shp_yaml_get(y, shp_yaml_root(y), "crystals");
  assert_non_null(list);
  assert_int_equal(shp_yaml_seq_count(list), 3);
  yaml_node_t *c = shp_yaml_seq_item(y, list, i);
  assert_non_null(c);
  return c;
}

static void test_number_error_names_file_line_and_key_path(void **state) {
  (void)state;
  shp_yaml *y = parse("fan4.yml", stack_text);
  double v = -1;
  shp_error_clear();
  assert_int_equal(
      shp_yaml_number(y, crystal(y, 2), "crystals[2]", "length_mm", &v),
      SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "fan4.yml:10: crystals[2].length_mm: expected "
                              "a number, got \"abc\"");
  assert_true(v == -1); /* nothing written on failure */
  assert_int_equal(
      shp_yaml_number(y, crystal(y, 2), "crystals[2]", "azimuth_deg", &v),
      SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "fan4.yml:11: crystals[2].azimuth_deg: "
                              "expected a number, got a list");
  /* The good first crystal reads, comments and all. */
  assert_int_equal(
      shp_yaml_number(y, crystal(y, 0), "crystals[0]", "length_mm", &v),
      SHP_OK);
  assert_true(v == 10.0);
  shp_yaml_free(y);
}

/* A missing key is reported at the line where its mapping starts. */
static void test_missing_key_names_its_mapping_line(void **state) {
  (void)state;
  shp_yaml *y = parse("fan4.yml", stack_text);
  double v;
  assert_int_equal(
      shp_yaml_number(y, crystal(y, 1), "crystals[1]", "length_mm", &v),
      SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "fan4.yml:6: crystals[1].length_mm: missing required key");
  const char *s;
  assert_int_equal(shp_yaml_string(y, shp_yaml_root(y), "", "target", &s),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "fan4.yml:1: target: missing required key");
  shp_yaml_free(y);
}

static void test_lines_are_one_based_and_skip_comments(void **state) {
  (void)state;
  shp_yaml *y = parse("fan4.yml", stack_text);
  assert_int_equal(shp_yaml_line(shp_yaml_root(y)), 1);
  assert_int_equal(shp_yaml_line(crystal(y, 2)), 9);
  assert_int_equal(
      shp_yaml_line(shp_yaml_get(y, shp_yaml_root(y), "double_pass")), 12);
  assert_int_equal(shp_yaml_line(NULL), 0);
  assert_string_equal(shp_yaml_path(y), "fan4.yml");
  shp_yaml_free(y);
}

static void test_key_name_joins_context_and_key(void **state) {
  (void)state;
  char buf[64];
  shp_yaml_key_name(buf, sizeof buf, "crystals[2]", "length_mm");
  assert_string_equal(buf, "crystals[2].length_mm");
  shp_yaml_key_name(buf, sizeof buf, "", "length_mm");
  assert_string_equal(buf, "length_mm");
  shp_yaml_key_name(buf, sizeof buf, NULL, "length_mm");
  assert_string_equal(buf, "length_mm");
  shp_yaml_key_name(buf, sizeof buf, "axes.o", NULL);
  assert_string_equal(buf, "axes.o");
  shp_yaml_key_name(buf, sizeof buf, "axes.o", "");
  assert_string_equal(buf, "axes.o");
  /* A small buffer truncates and stays terminated. */
  char small[8];
  shp_yaml_key_name(small, sizeof small, "crystals[2]", "length_mm");
  assert_string_equal(small, "crystal");
}

static void test_numbers_accept_plain_decimal_forms(void **state) {
  (void)state;
  shp_yaml *y = parse("n.yml", "a: 10\n"
                               "b: -3.5\n"
                               "c: 1.0e-5\n"
                               "d: +2\n"
                               "e: .5\n"
                               "f: 7E3\n");
  static const struct {
    const char *key;
    double value;
  } want[] = {{"a", 10}, {"b", -3.5}, {"c", 1.0e-5},
              {"d", 2},  {"e", 0.5},  {"f", 7000}};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    double v = NAN;
    assert_int_equal(shp_yaml_number(y, shp_yaml_root(y), "", want[i].key, &v),
                     SHP_OK);
    /* strtod is correctly rounded: the same double as the C literal. */
    assert_true(v == want[i].value);
  }
  shp_yaml_free(y);
}

/* YAML 1.1 spells its special floats .nan and .inf; none is a physical
 * quantity, and overflow to infinity is refused the same way. */
static void test_numbers_refuse_non_finite_values(void **state) {
  (void)state;
  static const char *const texts[] = {".nan",     ".NaN", ".inf", "-.inf",
                                      "+.INF",    "nan",  "inf",  "-inf",
                                      "infinity", "1e999"};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    char doc[64], want[96];
    snprintf(doc, sizeof doc, "# special\nx: %s\n", texts[i]);
    snprintf(want, sizeof want, "f.yml:2: x: must be a finite number, got %s",
             texts[i]);
    shp_yaml *y = parse("f.yml", doc);
    double v = 1.5;
    print_message("%s\n", texts[i]);
    assert_int_equal(shp_yaml_number(y, shp_yaml_root(y), "", "x", &v),
                     SHP_ERR_PARSE);
    assert_error(SHP_ERR_PARSE, want);
    assert_true(v == 1.5);
    shp_yaml_free(y);
  }
}

/* A quoted scalar is a string in YAML; the reader does not guess. */
static void test_numbers_refuse_quoted_and_non_numeric_text(void **state) {
  (void)state;
  shp_yaml *y = parse("q.yml", "a: \"1.5\"\n"
                               "b: '2'\n"
                               "c: 1.5 mm\n"
                               "d:\n"
                               "e: {x: 1}\n"
                               "f: 1_000\n");
  double v;
  yaml_node_t *root = shp_yaml_root(y);
  assert_int_equal(shp_yaml_number(y, root, "", "a", &v), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "q.yml:1: a: expected a number, got the quoted string \"1.5\"");
  assert_int_equal(shp_yaml_number(y, root, "", "b", &v), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "q.yml:2: b: expected a number, got the quoted string \"2\"");
  assert_int_equal(shp_yaml_number(y, root, "", "c", &v), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "q.yml:3: c: expected a number, got \"1.5 mm\"");
  assert_int_equal(shp_yaml_number(y, root, "", "d", &v), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "q.yml:4: d: expected a number, got \"\"");
  assert_int_equal(shp_yaml_number(y, root, "", "e", &v), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "q.yml:5: e: expected a number, got a mapping");
  assert_int_equal(shp_yaml_number(y, root, "", "f", &v), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "q.yml:6: f: expected a number, got \"1_000\"");
  shp_yaml_free(y);
}

static void test_optional_members_report_presence(void **state) {
  (void)state;
  shp_yaml *y = parse("o.yml", "gdd_fs2: 250\nname: x\n");
  yaml_node_t *root = shp_yaml_root(y);
  double v = -7;
  bool present = true;
  assert_int_equal(
      shp_yaml_number_opt(y, root, "pulse", "tod_fs3", &v, &present), SHP_OK);
  assert_false(present);
  assert_true(v == -7); /* left alone when absent */
  assert_int_equal(
      shp_yaml_number_opt(y, root, "pulse", "gdd_fs2", &v, &present), SHP_OK);
  assert_true(present);
  assert_true(v == 250);
  /* present may be NULL. */
  assert_int_equal(shp_yaml_number_opt(y, root, "", "tod_fs3", &v, NULL),
                   SHP_OK);
  const char *s = "unchanged";
  assert_int_equal(shp_yaml_string_opt(y, root, "", "shape", &s, &present),
                   SHP_OK);
  assert_false(present);
  assert_string_equal(s, "unchanged");
  assert_int_equal(shp_yaml_string_opt(y, root, "", "name", &s, &present),
                   SHP_OK);
  assert_true(present);
  assert_string_equal(s, "x");
  shp_yaml_free(y);
}

static void test_booleans_accept_true_false_yes_no(void **state) {
  (void)state;
  shp_yaml *y = parse("b.yml", "a: true\nb: false\nc: yes\nd: no\n"
                               "e: maybe\nf: \"true\"\ng: [true]\n");
  yaml_node_t *root = shp_yaml_root(y);
  static const struct {
    const char *key;
    bool value;
  } want[] = {{"a", true}, {"b", false}, {"c", true}, {"d", false}};
  for (size_t i = 0; i < 4; i++) {
    bool v = !want[i].value, present = false;
    assert_int_equal(shp_yaml_bool_opt(y, root, "", want[i].key, &v, &present),
                     SHP_OK);
    assert_true(present);
    assert_true(v == want[i].value);
  }
  bool v = true, present = true;
  assert_int_equal(shp_yaml_bool_opt(y, root, "", "double_pass", &v, &present),
                   SHP_OK);
  assert_false(present);
  assert_true(v); /* left alone when absent */
  assert_int_equal(shp_yaml_bool_opt(y, root, "", "e", &v, NULL),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "b.yml:5: e: expected true or false, got \"maybe\"");
  /* Quoted, it is a string, as with numbers. */
  assert_int_equal(shp_yaml_bool_opt(y, root, "", "f", &v, NULL),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "b.yml:6: f: expected true or false");
  assert_int_equal(shp_yaml_bool_opt(y, root, "", "g", &v, NULL),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "b.yml:7: g: expected true or false, got a list");
  shp_yaml_free(y);
}

static void test_numbers_list_reads_flow_and_block_forms(void **state) {
  (void)state;
  shp_yaml *y = parse("l.yml", "flow: [1, 2.5, -3e-2]\n"
                               "block:\n"
                               "  - 4\n"
                               "  - 5\n"
                               "empty: []\n");
  yaml_node_t *root = shp_yaml_root(y);
  double out[4] = {0};
  size_t n = 99;
  assert_int_equal(shp_yaml_numbers(y, root, "", "flow", out, 4, &n), SHP_OK);
  assert_int_equal(n, 3);
  assert_true(out[0] == 1 && out[1] == 2.5 && out[2] == -3e-2);
  assert_int_equal(shp_yaml_numbers(y, root, "", "block", out, 4, &n), SHP_OK);
  assert_int_equal(n, 2);
  assert_true(out[0] == 4 && out[1] == 5);
  assert_int_equal(shp_yaml_numbers(y, root, "", "empty", out, 4, &n), SHP_OK);
  assert_int_equal(n, 0);
  shp_yaml_free(y);
}

static void test_numbers_list_errors_name_the_item(void **state) {
  (void)state;
  shp_yaml *y = parse("m.yml", "axes:\n"
                               "  o:\n"
                               "    coefficients: [0.1, x, 3]\n"
                               "    many: [1, 2, 3, 4]\n"
                               "    scalar: 5\n"
                               "    nan:\n"
                               "      - 1\n"
                               "      - .nan\n");
  yaml_node_t *o =
      shp_yaml_get(y, shp_yaml_get(y, shp_yaml_root(y), "axes"), "o");
  assert_non_null(o);
  double out[3];
  size_t n = 0;
  assert_int_equal(shp_yaml_numbers(y, o, "axes.o", "coefficients", out, 3, &n),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "m.yml:3: axes.o.coefficients[1]: expected a "
                              "number, got \"x\"");
  assert_int_equal(shp_yaml_numbers(y, o, "axes.o", "many", out, 3, &n),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "m.yml:4: axes.o.many: at most 3 numbers, got 4");
  assert_int_equal(shp_yaml_numbers(y, o, "axes.o", "scalar", out, 3, &n),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "m.yml:5: axes.o.scalar: expected a list, got a scalar");
  assert_int_equal(shp_yaml_numbers(y, o, "axes.o", "nan", out, 3, &n),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "m.yml:8: axes.o.nan[1]: must be a finite number, got .nan");
  assert_int_equal(shp_yaml_numbers(y, o, "axes.o", "absent", out, 3, &n),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "m.yml:3: axes.o.absent: missing required key");
  shp_yaml_free(y);
}

static const char *const crystal_keys[] = {"material", "length_mm",
                                           "azimuth_deg", NULL};

static void test_check_keys_accepts_allowed_keys(void **state) {
  (void)state;
  shp_yaml *y = parse("fan4.yml", stack_text);
  for (size_t i = 0; i < 3; i++) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "crystals[%zu]", i);
    assert_int_equal(shp_yaml_check_keys(y, crystal(y, i), ctx, crystal_keys),
                     SHP_OK);
  }
  shp_yaml_free(y);
}

static void test_check_keys_names_unknown_key_with_path(void **state) {
  (void)state;
  shp_yaml *y = parse("k.yml", "crystals:\n"
                               "  - material: YVO4\n"
                               "    lenght_mm: 2\n");
  yaml_node_t *c =
      shp_yaml_seq_item(y, shp_yaml_get(y, shp_yaml_root(y), "crystals"), 0);
  assert_int_equal(shp_yaml_check_keys(y, c, "crystals[0]", crystal_keys),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "k.yml:3: crystals[0].lenght_mm: unknown key");
  shp_yaml_free(y);
}

/* libyaml keeps both entries of a repeated key; the reader refuses the
 * second and points back to the first. */
static void test_check_keys_refuses_duplicate_key(void **state) {
  (void)state;
  shp_yaml *y = parse("d.yml", "material: YVO4\n"
                               "length_mm: 2\n"
                               "\n"
                               "length_mm: 3\n");
  assert_int_equal(shp_yaml_check_keys(y, shp_yaml_root(y), "", crystal_keys),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE,
               "d.yml:4: length_mm: duplicate key (first on line 2)");
  shp_yaml_free(y);
}

static void
test_check_keys_refuses_complex_keys_and_non_mappings(void **state) {
  (void)state;
  shp_yaml *y = parse("c.yml", "? [a, b]\n: 1\n");
  assert_int_equal(shp_yaml_check_keys(y, shp_yaml_root(y), "", crystal_keys),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "c.yml:1: keys must be plain names");
  shp_yaml_free(y);
  y = parse("s.yml", "- 1\n- 2\n");
  assert_int_equal(
      shp_yaml_check_keys(y, shp_yaml_root(y), "crystals", crystal_keys),
      SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "s.yml:1: crystals: expected a mapping, got a "
                              "list");
  assert_int_equal(
      shp_yaml_expect_sequence(y, shp_yaml_root(y), "crystals", NULL), SHP_OK);
  assert_int_equal(shp_yaml_expect_mapping(y, shp_yaml_root(y), "", "pulse"),
                   SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "s.yml:1: pulse: expected a mapping, got a list");
  shp_yaml_free(y);
}

static void test_sequence_access_is_bounded(void **state) {
  (void)state;
  shp_yaml *y = parse("s.yml", "list: [a, b]\nscalar: c\n");
  yaml_node_t *root = shp_yaml_root(y);
  yaml_node_t *list = shp_yaml_get(y, root, "list");
  assert_int_equal(shp_yaml_seq_count(list), 2);
  const char *s;
  assert_int_equal(
      shp_yaml_as_string(y, shp_yaml_seq_item(y, list, 1), "", "list", &s),
      SHP_OK);
  assert_string_equal(s, "b");
  assert_null(shp_yaml_seq_item(y, list, 2));
  assert_int_equal(shp_yaml_seq_count(shp_yaml_get(y, root, "scalar")), 0);
  assert_int_equal(shp_yaml_seq_count(NULL), 0);
  assert_null(shp_yaml_seq_item(y, shp_yaml_get(y, root, "scalar"), 0));
  assert_null(shp_yaml_get(y, list, "a")); /* not a mapping */
  assert_null(shp_yaml_get(y, root, "absent"));
  assert_int_equal(shp_yaml_as_string(y, list, "", "list", &s), SHP_ERR_PARSE);
  assert_error(SHP_ERR_PARSE, "s.yml:1: list: expected a string, got a list");
  shp_yaml_free(y);
}

static void test_syntax_error_reports_file_and_line(void **state) {
  (void)state;
  static const char text[] = "name: x\n"
                             "grid:\n"
                             "  points: 16384\n"
                             " window_ps: 160\n";
  shp_error_clear();
  assert_null(shp_yaml_load_string("bad.yml", text, strlen(text)));
  assert_error(SHP_ERR_PARSE, "bad.yml:4: ");
  static const char tab[] = "name: x\ngrid:\n\tpoints: 1\n";
  assert_null(shp_yaml_load_string("tab.yml", tab, strlen(tab)));
  assert_error(SHP_ERR_PARSE,
               "tab.yml:3: ", "found character that cannot start any token");
}

static void test_empty_input_is_an_error(void **state) {
  (void)state;
  assert_null(shp_yaml_load_string("empty.yml", "", 0));
  assert_error(SHP_ERR_PARSE, "empty.yml:1: the file is empty");
  static const char comments[] = "# nothing here\n\n# still nothing\n";
  assert_null(shp_yaml_load_string("c.yml", comments, strlen(comments)));
  assert_error(SHP_ERR_PARSE, "c.yml:1: the file is empty");
}

/* One document per file: a second one would be silently ignored, so a file
 * edited by appending would keep its old values. The length bounds the
 * input. */
static void
test_second_document_is_refused_and_length_bounds_input(void **state) {
  (void)state;
  static const char two[] = "a: 1\n---\nb: 2\n";
  assert_null(shp_yaml_load_string("two.yml", two, strlen(two)));
  assert_error(SHP_ERR_PARSE,
               "two.yml:2: a second YAML document; one document per file");
  static const char marked[] = "---\na: 1\n...\n---\nb: 2\n";
  assert_null(shp_yaml_load_string("m.yml", marked, strlen(marked)));
  assert_error(SHP_ERR_PARSE, "m.yml:4: a second YAML document");
  static const char text[] = "a: 1\nb: 2\n";
  shp_yaml *y = shp_yaml_load_string("cut.yml", text, 5); /* "a: 1\n" */
  assert_non_null(y);
  assert_null(shp_yaml_get(y, shp_yaml_root(y), "b"));
  shp_yaml_free(y);
}

/* "!!str 4.0" would make a number a string behind the reader's back; no
 * tag has a meaning in these files. The message names line and key path. */
static void test_explicit_tags_are_refused_with_line_and_key(void **state) {
  (void)state;
  static const char str[] = "name: x\nduration_ps: !!str 4.0\n";
  assert_null(shp_yaml_load_string("t.yml", str, strlen(str)));
  assert_string_equal(shp_error_detail(),
                      "t.yml:2: duration_ps: explicit YAML tags are not "
                      "supported");
  assert_int_equal(shp_error_last(), SHP_ERR_PARSE);
  static const char nested[] = "crystals:\n"
                               "  - material: alpha-BBO\n"
                               "  - material: alpha-BBO\n"
                               "    length_mm: !foo 3\n";
  assert_null(shp_yaml_load_string("n.yml", nested, strlen(nested)));
  assert_string_equal(shp_error_detail(),
                      "n.yml:4: crystals[1].length_mm: explicit YAML tags "
                      "are not supported");
  static const char map[] = "pulse: !!map\n  fwhm_ps: 1.0\n";
  assert_null(shp_yaml_load_string("m.yml", map, strlen(map)));
  assert_string_equal(shp_error_detail(),
                      "m.yml:1: pulse: explicit YAML tags are not supported");
}

/* Aliases let a few lines expand into billions of nodes ("billion laughs");
 * none of these files needs them. */
static void test_anchors_and_aliases_are_refused(void **state) {
  (void)state;
  static const char bomb[] = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                             "b: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n";
  assert_null(shp_yaml_load_string("bomb.yml", bomb, strlen(bomb)));
  assert_string_equal(shp_error_detail(),
                      "bomb.yml:1: a: YAML anchors (&name) are not supported");
  static const char alias[] = "a: 1\nb: *x\n";
  assert_null(shp_yaml_load_string("alias.yml", alias, strlen(alias)));
  assert_error(SHP_ERR_PARSE, "alias.yml:2: b: ");
}

static char *nested_flow(size_t levels) {
  char *text = malloc(4 * levels + 3); /* "1\n" and the NUL */
  assert_non_null(text);
  size_t n = 0;
  for (size_t i = 0; i < levels; i++) {
    text[n++] = '[';
    text[n++] = '\n';
  }
  text[n++] = '1';
  for (size_t i = 0; i < levels; i++) {
    text[n++] = '\n';
    text[n++] = ']';
  }
  text[n++] = '\n';
  text[n] = '\0';
  return text;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (t1.tv_nsec - t0->tv_nsec);
}

/* 64 levels load; 65 do not, and 60 000 levels (which took seconds,
 * quadratically, in libyaml's loader) are refused in milliseconds. */
static void
test_nesting_deeper_than_64_levels_is_refused_quickly(void **state) {
  (void)state;
  char *ok = nested_flow(64);
  shp_yaml *y = parse("ok.yml", ok);
  assert_int_equal(shp_yaml_root(y)->type, YAML_SEQUENCE_NODE);
  shp_yaml_free(y);
  free(ok);
  char *deep = nested_flow(65);
  assert_null(shp_yaml_load_string("deep.yml", deep, strlen(deep)));
  assert_string_equal(shp_error_detail(),
                      "deep.yml:65: nested deeper than 64 levels");
  free(deep);
  char *huge = nested_flow(60000);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_null(shp_yaml_load_string("huge.yml", huge, strlen(huge)));
  double elapsed = seconds_since(&t0);
  assert_error(SHP_ERR_PARSE, "huge.yml:65: nested deeper than 64 levels");
  assert_true(elapsed < 1.0);
  free(huge);
  static const char block[] = "a:\n b:\n  c: 1\n";
  y = parse("block.yml", block);
  shp_yaml_free(y);
}

/* A line longer than SHP_FILE_MAX_LINE (64 KiB) is refused before libyaml
 * sees it, with its line number. */
static void test_overlong_line_is_refused(void **state) {
  (void)state;
  size_t n = SHP_FILE_MAX_LINE + 1;
  char *text = malloc(n + 32);
  assert_non_null(text);
  strcpy(text, "a: 1\nb: ");
  size_t used = strlen(text);
  memset(text + used, 'x', n - 3);
  used += n - 3;
  strcpy(text + used, "\n");
  assert_null(shp_yaml_load_string("long.yml", text, strlen(text)));
  char want[128];
  snprintf(want, sizeof want, "long.yml:2: line longer than %zu bytes",
           SHP_FILE_MAX_LINE);
  assert_string_equal(shp_error_detail(), want);
  assert_int_equal(shp_error_last(), SHP_ERR_PARSE);
  /* Exactly the bound is accepted. */
  text[used - 1] = '\0';
  shp_yaml *y = parse("edge.yml", text);
  shp_yaml_free(y);
  free(text);
}

/* "name:" and "material: \"\"" state nothing: a required string must not
 * be empty, while an optional one may be. */
static void test_empty_required_string_is_refused(void **state) {
  (void)state;
  shp_yaml *y = parse("e.yml", "name:\nmaterial: \"\"\nnote: ''\n");
  const char *s = NULL;
  assert_int_equal(shp_yaml_string(y, shp_yaml_root(y), "", "name", &s),
                   SHP_ERR_PARSE);
  assert_string_equal(shp_error_detail(), "e.yml:1: name: must not be empty");
  assert_int_equal(
      shp_yaml_string(y, shp_yaml_root(y), "crystals[0]", "material", &s),
      SHP_ERR_PARSE);
  assert_string_equal(shp_error_detail(),
                      "e.yml:2: crystals[0].material: must not be empty");
  bool present = false;
  assert_int_equal(
      shp_yaml_string_opt(y, shp_yaml_root(y), "", "note", &s, &present),
      SHP_OK);
  assert_true(present);
  assert_string_equal(s, "");
  shp_yaml_free(y);
}

static void test_missing_file_is_an_io_error(void **state) {
  (void)state;
  shp_error_clear();
  assert_null(shp_yaml_load(SHP_TEST_DATADIR "/no-such-file.yml"));
  assert_error(SHP_ERR_FILE, "no-such-file.yml: cannot open: No such file");
  shp_yaml_free(NULL); /* a no-op */
}

static void test_fail_code_records_the_given_code(void **state) {
  (void)state;
  shp_yaml *y = parse("r.yml", "length_mm: -3\n");
  yaml_node_t *v = shp_yaml_get(y, shp_yaml_root(y), "length_mm");
  assert_int_equal(shp_yaml_fail_code(SHP_ERR_RANGE, y, v, "crystals[2]",
                                      "length_mm", "must be > 0, got %g", -3.0),
                   SHP_ERR_RANGE);
  assert_error(SHP_ERR_RANGE,
               "r.yml:1: crystals[2].length_mm: must be > 0, got -3");
  assert_int_equal(shp_yaml_fail(y, v, "", "", "plain %s", "text"),
                   SHP_ERR_PARSE);
  assert_string_equal(shp_error_detail(), "r.yml:1: plain text");
  shp_yaml_free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_number_error_names_file_line_and_key_path),
      cmocka_unit_test(test_missing_key_names_its_mapping_line),
      cmocka_unit_test(test_lines_are_one_based_and_skip_comments),
      cmocka_unit_test(test_key_name_joins_context_and_key),
      cmocka_unit_test(test_numbers_accept_plain_decimal_forms),
      cmocka_unit_test(test_numbers_refuse_non_finite_values),
      cmocka_unit_test(test_numbers_refuse_quoted_and_non_numeric_text),
      cmocka_unit_test(test_optional_members_report_presence),
      cmocka_unit_test(test_booleans_accept_true_false_yes_no),
      cmocka_unit_test(test_numbers_list_reads_flow_and_block_forms),
      cmocka_unit_test(test_numbers_list_errors_name_the_item),
      cmocka_unit_test(test_check_keys_accepts_allowed_keys),
      cmocka_unit_test(test_check_keys_names_unknown_key_with_path),
      cmocka_unit_test(test_check_keys_refuses_duplicate_key),
      cmocka_unit_test(test_check_keys_refuses_complex_keys_and_non_mappings),
      cmocka_unit_test(test_sequence_access_is_bounded),
      cmocka_unit_test(test_syntax_error_reports_file_and_line),
      cmocka_unit_test(test_empty_input_is_an_error),
      cmocka_unit_test(test_second_document_is_refused_and_length_bounds_input),
      cmocka_unit_test(test_explicit_tags_are_refused_with_line_and_key),
      cmocka_unit_test(test_anchors_and_aliases_are_refused),
      cmocka_unit_test(test_nesting_deeper_than_64_levels_is_refused_quickly),
      cmocka_unit_test(test_overlong_line_is_refused),
      cmocka_unit_test(test_empty_required_string_is_refused),
      cmocka_unit_test(test_missing_file_is_an_io_error),
      cmocka_unit_test(test_fail_code_records_the_given_code),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
