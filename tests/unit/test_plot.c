/* Unit tests of the cairo plots: files of each format, where the curves land
 * in the image, automatic ranges, and input that must not break a plot
 * (NaN, empty series, constant data, far-off samples). Images are checked
 * pixel by pixel against the frames shp_plot_layout reports. */
#include "shp/error.h"
#include "shp/plot.h"

#include <cairo.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define LN2 0.69314718055994530942
#define W 1200
#define H 900

/* Fontconfig, which Pango uses to find fonts, keeps allocations for the life
 * of the process that LeakSanitizer reports as leaks. They are not the
 * plot library's, so leaks allocated inside fontconfig are suppressed; any
 * other leak still fails the sanitized run. */
#if defined(__SANITIZE_ADDRESS__)
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libfontconfig.so\n";
}
#endif

/* |actual - expected| <= tol, with both numbers in the failure message. */
#define assert_near(actual, expected, tol)                                     \
  assert_near_at((actual), (expected), (tol), #actual, __FILE__, __LINE__)

static void assert_near_at(double actual, double expected, double tol,
                           const char *what, const char *file, int line) {
  if (!(fabs(actual - expected) <= tol)) {
    print_error("%s = %.12g, expected %.12g +- %.3g (off by %.3g)\n", what,
                actual, expected, tol, fabs(actual - expected));
    _fail(file, line);
  }
}

/* A 1 ps Gaussian centred in a 80 ps window, and a 5 ps flat-top target. */
#define N 4096
static double t_ps[N], gauss[N], flat[N];

static double time_at(size_t i, size_t n, double window) {
  return ((double)i - (double)(n / 2)) * window / (double)n;
}

static double gaussian(double t, double fwhm) {
  return exp(-4.0 * LN2 * t * t / (fwhm * fwhm));
}

static void fill_curves(void) {
  for (size_t i = 0; i < N; i++) {
    t_ps[i] = time_at(i, N, 80.0);
    gauss[i] = gaussian(t_ps[i], 1.0);
    flat[i] = exp(-pow(t_ps[i] / 2.5, 12)); /* super-Gaussian, 5 ps wide */
  }
}

/* ---- temporary directory per test ---- */

static int dir_setup(void **state) {
  char *dir = strdup("/tmp/test_plot.XXXXXX");
  if (dir == NULL || mkdtemp(dir) == NULL)
    return -1;
  fill_curves();
  *state = dir;
  return 0;
}

static int dir_teardown(void **state) {
  char *dir = *state;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    char path[4096];
    if (e->d_name[0] == '.' &&
        (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d != NULL)
    closedir(d);
  rmdir(dir);
  free(dir);
  return 0;
}

static size_t count_entries(const char *dir) {
  size_t n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static char *path_in(const char *dir, const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

/* ---- figures ---- */

static shp_plot_series series_of(const double *y, const char *label,
                                 shp_plot_style style) {
  return (shp_plot_series){t_ps, y, N, label, style, -1};
}

static shp_plot_panel panel_of(const shp_plot_series *s, size_t count) {
  return (shp_plot_panel){.title = "output intensity",
                          .xlabel = "time (ps)",
                          .ylabel = "intensity (arb. u.)",
                          .series = s,
                          .series_count = count};
}

/* ---- pixels ---- */

typedef struct {
  cairo_surface_t *surface;
  unsigned char *data;
  int width, height, stride;
} image;

static image image_wrap(cairo_surface_t *s) {
  cairo_surface_flush(s);
  return (image){
      s, cairo_image_surface_get_data(s), cairo_image_surface_get_width(s),
      cairo_image_surface_get_height(s), cairo_image_surface_get_stride(s)};
}

static void pixel_rgb(const image *im, int x, int y, int rgb[3]) {
  uint32_t p;
  memcpy(&p, im->data + (size_t)y * (size_t)im->stride + 4 * (size_t)x, 4);
  rgb[0] = (int)((p >> 16) & 0xff);
  rgb[1] = (int)((p >> 8) & 0xff);
  rgb[2] = (int)(p & 0xff);
}

/* Close to palette colour `color`: the core of a curve, not its
 * anti-aliased fringe and not grey text or grid. */
static bool is_color(const image *im, int x, int y, int color) {
  double want[3];
  int rgb[3];
  shp_plot_palette_rgb(color, want);
  pixel_rgb(im, x, y, rgb);
  double d = 0;
  for (int c = 0; c < 3; c++)
    d += pow(rgb[c] - 255.0 * want[c], 2);
  return sqrt(d) < 50;
}

static bool in_frame(const shp_plot_frame *f, int x, int y, double slack) {
  return x + 0.5 >= f->x - slack && x + 0.5 <= f->x + f->width + slack &&
         y + 0.5 >= f->y - slack && y + 0.5 <= f->y + f->height + slack;
}

/* Every pixel of `color` lies in frame f; returns how many there are. */
static size_t assert_color_inside(const image *im, const shp_plot_frame *f,
                                  int color) {
  size_t count = 0;
  for (int y = 0; y < im->height; y++)
    for (int x = 0; x < im->width; x++)
      if (is_color(im, x, y, color)) {
        if (!in_frame(f, x, y, 3.0))
          fail_msg("colour %d pixel at (%d, %d) outside the frame", color, x,
                   y);
        count++;
      }
  return count;
}

static image render(const shp_plot_figure *fig, int w, int h,
                    shp_plot_frame *frames, size_t nframes) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(s);
  assert_int_equal(shp_plot_draw(cr, fig, w, h), SHP_OK);
  if (frames != NULL)
    assert_int_equal(shp_plot_layout(cr, fig, w, h, frames, nframes), SHP_OK);
  cairo_destroy(cr);
  return image_wrap(s);
}

static bool starts_with(const char *path, const char *magic) {
  char buf[16] = {0};
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return false;
  size_t n = fread(buf, 1, strlen(magic), f);
  fclose(f);
  return n == strlen(magic) && memcmp(buf, magic, n) == 0;
}

/* ---- files ---- */

static void test_png_file_is_valid_sized_and_not_blank(void **state) {
  const char *path = path_in(*state, "pulse.png");
  shp_plot_series s[2] = {series_of(gauss, "output", SHP_PLOT_LINE),
                          series_of(flat, "target", SHP_PLOT_DASHED)};
  shp_plot_panel p = panel_of(s, 2);
  shp_plot_figure fig = {"fan Solc: transmission 0.93", &p, 1};
  assert_int_equal(shp_plot_save(&fig, path, W, H), SHP_OK);

  cairo_surface_t *png = cairo_image_surface_create_from_png(path);
  assert_int_equal(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
  image im = image_wrap(png);
  assert_int_equal(im.width, W);
  assert_int_equal(im.height, H);
  size_t dark = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int rgb[3];
      pixel_rgb(&im, x, y, rgb);
      dark += rgb[0] + rgb[1] + rgb[2] < 3 * 200;
    }
  /* Curves, frame and text, but a white page: between 0.5 % and 30 %. */
  assert_in_range(dark, W * H / 200, W * H * 3 / 10);

  shp_plot_frame f;
  cairo_t *cr = cairo_create(png);
  assert_int_equal(shp_plot_layout(cr, &fig, W, H, &f, 1), SHP_OK);
  cairo_destroy(cr);
  /* Both curves (and their legend samples) drawn, inside the frame. */
  assert_true(assert_color_inside(&im, &f, 0) > 500);
  assert_true(assert_color_inside(&im, &f, 1) > 200);
  cairo_surface_destroy(png);
  assert_int_equal(count_entries(*state), 1);
}

static void test_svg_and_pdf_files_start_with_their_magic(void **state) {
  shp_plot_series s = series_of(gauss, "output", SHP_PLOT_LINE);
  shp_plot_panel p = panel_of(&s, 1);
  shp_plot_figure fig = {"title", &p, 1};
  char svg[4096], pdf[4096];
  snprintf(svg, sizeof svg, "%s", path_in(*state, "pulse.SVG"));
  snprintf(pdf, sizeof pdf, "%s", path_in(*state, "pulse.pdf"));
  assert_int_equal(shp_plot_save(&fig, svg, 800, 600), SHP_OK);
  assert_int_equal(shp_plot_save(&fig, pdf, 800, 600), SHP_OK);
  assert_true(starts_with(svg, "<?xml") || starts_with(svg, "<svg"));
  assert_true(starts_with(pdf, "%PDF-"));
  assert_int_equal(count_entries(*state), 2);
}

static void test_unknown_extension_fails_and_leaves_no_file(void **state) {
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_LINE);
  shp_plot_panel p = panel_of(&s, 1);
  shp_plot_figure fig = {NULL, &p, 1};
  assert_int_equal(shp_plot_save(&fig, path_in(*state, "pulse.bmp"), W, H),
                   SHP_ERR_INVALID);
  assert_non_null(strstr(shp_error_detail(), ".bmp"));
  assert_int_equal(shp_plot_save(&fig, path_in(*state, "pulse"), W, H),
                   SHP_ERR_INVALID);
  assert_int_equal(count_entries(*state), 0);
}

static void test_unwritable_directory_fails_with_io(void **state) {
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_LINE);
  shp_plot_panel p = panel_of(&s, 1);
  shp_plot_figure fig = {NULL, &p, 1};
  char path[4096];
  snprintf(path, sizeof path, "%s", path_in(*state, "missing/pulse.png"));
  assert_int_equal(shp_plot_save(&fig, path, W, H), SHP_ERR_WRITE);
  assert_non_null(strstr(shp_error_detail(), path));
  assert_int_equal(count_entries(*state), 0);
}

static void test_save_replaces_existing_file_without_leftovers(void **state) {
  const char *path = path_in(*state, "pulse.png");
  FILE *old = fopen(path, "w");
  assert_non_null(old);
  fputs("old contents", old);
  fclose(old);
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_POINTS);
  shp_plot_panel p = panel_of(&s, 1);
  shp_plot_figure fig = {NULL, &p, 1};
  assert_int_equal(shp_plot_save(&fig, path, 640, 480), SHP_OK);
  assert_true(starts_with(path, "\x89PNG"));
  assert_int_equal(count_entries(*state), 1);
}

static void test_save_rejects_bad_size_without_a_file(void **state) {
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_LINE);
  shp_plot_panel p = panel_of(&s, 1);
  shp_plot_figure fig = {NULL, &p, 1};
  const char *path = path_in(*state, "pulse.png");
  assert_int_equal(shp_plot_save(&fig, path, 0, 480), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_save(&fig, path, 640, NAN), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_save(&fig, path, 40000, 480), SHP_ERR_INVALID);
  assert_int_equal(count_entries(*state), 0);
}

/* ---- geometry ---- */

/* With y fixed to [0, 1.25], the peak of a centred Gaussian of height 1 must
 * be at the horizontal centre of the frame and 20 % of its height down. */
static void test_centred_gaussian_peaks_at_frame_centre(void **state) {
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_LINE);
  shp_plot_panel p = panel_of(&s, 1);
  p.fixed_y = true, p.ymin = 0, p.ymax = 1.25;
  shp_plot_figure fig = {"title", &p, 1};
  shp_plot_frame f;
  image im = render(&fig, W, H, &f, 1);
  assert_true(assert_color_inside(&im, &f, 0) > 500);

  int top = -1;
  double sum_x = 0, count = 0;
  for (int y = 0; y < H && top < 0; y++)
    for (int x = 0; x < W; x++)
      if (is_color(&im, x, y, 0)) {
        top = y;
        sum_x += x + 0.5, count++;
      }
  assert_true(top >= 0);
  double centre = f.x + 0.5 * f.width;
  assert_near(sum_x / count, centre, 3.0);
  assert_near(top + 0.5, f.y + 0.2 * f.height, 3.0);
  /* The automatic range is symmetric about the centred pulse. */
  assert_near(f.xmin, -f.xmax, 0.05);
  cairo_surface_destroy(im.surface);
}

/* A line at y = 0.5 over x in [0, 10] with NaN and inf samples in (4, 6)
 * shows on both sides of the hole and not inside it. */
static void test_nan_samples_leave_a_gap(void **state) {
  enum { M = 1001 };
  static double x[M], y[M];
  for (size_t i = 0; i < M; i++) {
    x[i] = 10.0 * (double)i / (M - 1);
    y[i] = x[i] > 4 && x[i] < 6 ? (i % 2 ? NAN : INFINITY) : 0.5;
  }
  shp_plot_series s = {x, y, M, "line", SHP_PLOT_LINE, 0};
  shp_plot_panel p = {.series = &s,
                      .series_count = 1,
                      .fixed_x = true,
                      .xmin = 0,
                      .xmax = 10,
                      .fixed_y = true,
                      .ymin = 0,
                      .ymax = 1};
  shp_plot_figure fig = {NULL, &p, 1};
  shp_plot_frame f;
  image im = render(&fig, 800, 500, &f, 1);
  int row = (int)(f.y + 0.5 * f.height);
  int hits[3] = {0, 0, 0};
  const double at[3] = {2.0, 5.0, 8.0};
  for (int k = 0; k < 3; k++) {
    int col = (int)(f.x + at[k] / 10 * f.width);
    for (int dy = -3; dy <= 3; dy++)
      hits[k] += is_color(&im, col, row + dy, 0);
  }
  assert_true(hits[0] > 0);
  assert_int_equal(hits[1], 0);
  assert_true(hits[2] > 0);
  cairo_surface_destroy(im.surface);
}

/* Samples far outside a fixed range are clipped, not wrapped around by
 * cairo's fixed-point coordinates into stray lines. */
static void test_far_off_samples_stay_inside_the_frame(void **state) {
  static const double x[] = {0.5, 1, 2, 3, 4, 4.5};
  static const double y[] = {0.2, 1e300, -1e300, 0.5, 1e12, 0.8};
  shp_plot_series s = {x, y, 6, NULL, SHP_PLOT_LINE, 0};
  shp_plot_panel p = {.series = &s,
                      .series_count = 1,
                      .fixed_x = true,
                      .xmin = 0,
                      .xmax = 5,
                      .fixed_y = true,
                      .ymin = 0,
                      .ymax = 1};
  shp_plot_figure fig = {NULL, &p, 1};
  shp_plot_frame f;
  image im = render(&fig, W, H, &f, 1);
  /* Near-vertical lines at x = 0.5, 1.5, 3 and 4.5 that add up to three
   * frame heights: wrapped-around coordinates would lose or misplace them. */
  assert_true(assert_color_inside(&im, &f, 0) > 2 * (size_t)f.height);
  int col = (int)(f.x + 1.5 / 5 * f.width);
  size_t rows = 0;
  for (int r = (int)f.y; r < (int)(f.y + f.height); r++)
    rows += is_color(&im, col, r, 0) || is_color(&im, col - 1, r, 0) ||
            is_color(&im, col + 1, r, 0);
  assert_true(rows > 0.95 * f.height);
  cairo_surface_destroy(im.surface);
}

/* The figure draws only into its rectangle of the caller's user space, as a
 * GUI widget drawing at an offset needs. */
static void test_draw_stays_in_its_rectangle(void **state) {
  shp_plot_series s = series_of(gauss, "output", SHP_PLOT_LINE);
  shp_plot_panel p = panel_of(&s, 1);
  shp_plot_figure fig = {"title", &p, 1};
  cairo_surface_t *surf =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, 800, 600);
  cairo_t *cr = cairo_create(surf);
  cairo_set_source_rgb(cr, 1, 0, 0);
  cairo_paint(cr);
  cairo_translate(cr, 100, 100);
  assert_int_equal(shp_plot_draw(cr, &fig, 600, 400), SHP_OK);
  /* State restored: the translation is still the caller's. */
  double ux = 0, uy = 0;
  cairo_user_to_device(cr, &ux, &uy);
  assert_near(ux, 100, 1e-12);
  cairo_destroy(cr);
  image im = image_wrap(surf);
  size_t red_inside = 0, other_outside = 0;
  for (int y = 0; y < 600; y++)
    for (int x = 0; x < 800; x++) {
      int rgb[3];
      pixel_rgb(&im, x, y, rgb);
      bool red = rgb[0] == 255 && rgb[1] == 0 && rgb[2] == 0;
      bool inside = x >= 100 && x < 700 && y >= 100 && y < 500;
      red_inside += inside && red;
      other_outside += !inside && !red;
    }
  assert_int_equal(red_inside, 0);
  assert_int_equal(other_outside, 0);
  cairo_surface_destroy(surf);
}

static void test_three_panels_stack_with_aligned_frames(void **state) {
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_LINE);
  shp_plot_panel p[3] = {panel_of(&s, 1), panel_of(&s, 1), panel_of(&s, 1)};
  p[1].ylabel = NULL; /* narrower margin needs, same frame position */
  shp_plot_figure fig = {"title", p, 3};
  shp_plot_frame f[3];
  image im = render(&fig, W, H, f, 3);
  for (int i = 1; i < 3; i++) {
    assert_near(f[i].x, f[0].x, 1e-9);
    assert_near(f[i].width, f[0].width, 1e-9);
    assert_true(f[i].y > f[i - 1].y + f[i - 1].height + 20);
  }
  assert_true(f[2].y + f[2].height < H);
  cairo_surface_destroy(im.surface);
}

static void test_four_panels_make_a_two_by_two_grid(void **state) {
  shp_plot_series s = series_of(gauss, NULL, SHP_PLOT_LINE);
  shp_plot_panel p[4] = {panel_of(&s, 1), panel_of(&s, 1), panel_of(&s, 1),
                         panel_of(&s, 1)};
  shp_plot_figure fig = {NULL, p, 4};
  shp_plot_frame f[4];
  image im = render(&fig, W, H, f, 4);
  assert_near(f[2].x, f[0].x, 1e-9);
  assert_true(f[1].x > f[0].x + f[0].width);
  assert_near(f[1].y, f[0].y, 1e-9);
  assert_true(f[2].y > f[0].y + f[0].height);
  assert_true(f[3].x + f[3].width < W && f[3].y + f[3].height < H);
  cairo_surface_destroy(im.surface);
}

/* ---- degenerate input ---- */

static void test_constant_empty_and_missing_data_get_padded_ranges(void **s) {
  static const double x[] = {1, 2, 3}, y[] = {5, 5, 5};
  shp_plot_series flat5[2] = {{x, y, 3, "five", SHP_PLOT_LINE, -1},
                              {NULL, NULL, 0, "none", SHP_PLOT_DOTTED, 3}};
  shp_plot_series single = {x, y, 1, NULL, SHP_PLOT_POINTS, -1};
  shp_plot_panel p[3] = {{.series = flat5, .series_count = 2},
                         {.title = "empty"},
                         {.series = &single, .series_count = 1}};
  shp_plot_figure fig = {"", p, 3};
  shp_plot_frame f[3];
  image im = render(&fig, 800, 600, f, 3);
  assert_true(f[0].ymin < 5 && f[0].ymax > 5);
  assert_near(f[0].xmin, 1, 1e-12);
  assert_near(f[0].xmax, 3, 1e-12);
  assert_near(f[1].xmin, 0, 0);
  assert_near(f[1].xmax, 1, 0);
  assert_true(f[2].xmin < 1 && f[2].xmax > 1);
  assert_true(f[2].ymin < 5 && f[2].ymax > 5);
  cairo_surface_destroy(im.surface);

  shp_plot_figure none = {"nothing", NULL, 0};
  im = render(&none, 300, 200, NULL, 0);
  cairo_surface_destroy(im.surface);
}

static void test_invalid_figures_are_rejected(void **state) {
  static const double x[] = {0, 1};
  shp_plot_series no_y = {x, NULL, 2, NULL, SHP_PLOT_LINE, -1};
  shp_plot_panel p = {.series = &no_y, .series_count = 1};
  shp_plot_figure fig = {NULL, &p, 1};
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 10, 10);
  cairo_t *cr = cairo_create(s);
  shp_plot_frame f;
  assert_int_equal(shp_plot_draw(cr, &fig, 10, 10), SHP_ERR_INVALID);
  assert_non_null(strstr(shp_error_detail(), "series 0"));
  p.series_count = 0, p.fixed_x = true, p.xmin = 1, p.xmax = 1;
  assert_int_equal(shp_plot_draw(cr, &fig, 10, 10), SHP_ERR_INVALID);
  p.fixed_x = false, p.fixed_y = true, p.ymin = 0, p.ymax = NAN;
  assert_int_equal(shp_plot_draw(cr, &fig, 10, 10), SHP_ERR_INVALID);
  p.fixed_y = false;
  assert_int_equal(shp_plot_draw(cr, &fig, 0, 10), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_draw(NULL, &fig, 10, 10), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_draw(cr, NULL, 10, 10), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_layout(cr, &fig, 10, 10, &f, 0), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_draw(cr, &fig, 10, 10), SHP_OK);
  cairo_destroy(cr);
  cairo_surface_destroy(s);
}

/* ---- automatic range ---- */

/* A 0.5 ps Gaussian in a 160 ps window: exp(-4 ln2 t^2 / w^2) = 1e-3 at
 * t = w sqrt(ln 1000 / (4 ln 2)), and the range is that plus 10 % of 2t. */
static void test_auto_range_finds_a_narrow_pulse(void **state) {
  enum { M = 16384 };
  static double x[M], y[M];
  const double fwhm = 0.5, dt = 160.0 / M;
  const double edge = fwhm * sqrt(log(1000.0) / (4 * LN2));
  const double centres[2] = {0.0, 20.0};
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < M; i++) {
      x[i] = time_at(i, M, 160.0);
      y[i] = gaussian(x[i] - centres[k], fwhm);
    }
    shp_plot_series s = {x, y, M, NULL, SHP_PLOT_LINE, -1};
    shp_plot_panel p = {.series = &s, .series_count = 1};
    double lo, hi;
    assert_int_equal(shp_plot_auto_range(&p, 1e-3, &lo, &hi), SHP_OK);
    assert_near(lo, centres[k] - 1.2 * edge, 2 * dt);
    assert_near(hi, centres[k] + 1.2 * edge, 2 * dt);
  }
}

/* Near the window's end the padding stops at the last sample. */
static void test_auto_range_stays_within_the_samples(void **state) {
  enum { M = 1000 };
  static double x[M], y[M];
  for (size_t i = 0; i < M; i++) {
    x[i] = (double)i * 0.1;
    y[i] = gaussian(x[i] - 99.5, 2.0);
  }
  shp_plot_series s = {x, y, M, NULL, SHP_PLOT_LINE, -1};
  shp_plot_panel p = {.series = &s, .series_count = 1};
  double lo, hi;
  assert_int_equal(shp_plot_auto_range(&p, 1e-3, &lo, &hi), SHP_OK);
  assert_near(hi, 99.9, 1e-9);
  assert_true(lo > 90 && lo < 97);
}

static void test_auto_range_ignores_nan_and_handles_no_data(void **state) {
  static const double x[] = {0, 1, 2, 3, 4};
  static const double y[] = {NAN, 0, 1, INFINITY, 0};
  shp_plot_series s = {x, y, 5, NULL, SHP_PLOT_LINE, -1};
  shp_plot_panel p = {.series = &s, .series_count = 1};
  double lo, hi;
  assert_int_equal(shp_plot_auto_range(&p, 0.5, &lo, &hi), SHP_OK);
  assert_true(lo < 2 && hi > 2 && lo >= 1 && hi <= 4);
  s.n = 0;
  assert_int_equal(shp_plot_auto_range(&p, 1e-3, &lo, &hi), SHP_OK);
  assert_near(lo, 0, 0);
  assert_near(hi, 1, 0);
  assert_int_equal(shp_plot_auto_range(&p, 1.0, &lo, &hi), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_auto_range(&p, NAN, &lo, &hi), SHP_ERR_INVALID);
  assert_int_equal(shp_plot_auto_range(NULL, 0.1, &lo, &hi), SHP_ERR_INVALID);
}

static void test_palette_wraps_and_is_distinct(void **state) {
  size_t n = shp_plot_palette_size();
  double a[3], b[3];
  assert_true(n >= 6);
  shp_plot_palette_rgb(0, a);
  shp_plot_palette_rgb((int)n, b);
  assert_memory_equal(a, b, sizeof a);
  shp_plot_palette_rgb(1, b);
  assert_true(fabs(a[0] - b[0]) + fabs(a[1] - b[1]) + fabs(a[2] - b[2]) > 0.5);
}

/* A band fills its outline see-through: inside it the palette colour at a
 * quarter over white, outside it white; a curve under it still shows. */
static void test_band_is_filled_see_through(void **state) {
  (void)state;
  static const double bx[] = {2, 8, 8, 2}, by[] = {0.6, 0.6, 0.4, 0.4};
  static const double lx[] = {0, 10}, ly[] = {0.5, 0.5};
  shp_plot_series s[] = {{bx, by, 4, "band", SHP_PLOT_BAND, 0},
                         {lx, ly, 2, "line", SHP_PLOT_LINE, 1}};
  shp_plot_panel p = panel_of(s, 2);
  p.fixed_x = true, p.xmin = 0, p.xmax = 10;
  p.fixed_y = true, p.ymin = 0, p.ymax = 1;
  shp_plot_figure fig = {NULL, &p, 1};
  shp_plot_frame f;
  image im = render(&fig, W, H, &f, 1);
  double want[3];
  shp_plot_palette_rgb(0, want);
  int x = (int)(f.x + 0.33 * f.width), y = (int)(f.y + 0.47 * f.height);
  int rgb[3];
  pixel_rgb(&im, x, y, rgb);
  for (int c = 0; c < 3; c++)
    assert_near(rgb[c], 255.0 * (0.25 * want[c] + 0.75), 2.0);
  pixel_rgb(&im, x, (int)(f.y + 0.67 * f.height), rgb);
  for (int c = 0; c < 3; c++)
    assert_int_equal(rgb[c], 255);
  /* The line at y = 0.5 runs through the band in its own colour. */
  int row = (int)floor(f.y + 0.5 * f.height);
  bool line = false;
  for (int dy = -2; dy <= 2; dy++)
    line = line || is_color(&im, x, row + dy, 1);
  assert_true(line);
  cairo_surface_destroy(im.surface);
}

/* Integer ticks: a count axis over [0, 3] gets grid lines at 1 and 2
 * only, where plain ticks would put them every half. */
static void test_integer_x_ticks_are_whole(void **state) {
  (void)state;
  static const double x[] = {0, 1, 2, 3}, y[] = {1, 2, 1, 2};
  shp_plot_series s = {x, y, 4, NULL, SHP_PLOT_LINE, 0};
  shp_plot_panel p = panel_of(&s, 1);
  p.fixed_x = true, p.xmin = 0, p.xmax = 3;
  p.fixed_y = true, p.ymin = 0, p.ymax = 10; /* the curve stays low */
  p.integer_x = true;
  shp_plot_figure fig = {NULL, &p, 1};
  shp_plot_frame f;
  image im = render(&fig, W, H, &f, 1);
  int row = (int)(f.y + 0.13 * f.height);
  int lines[16], n = 0;
  for (int px = (int)f.x + 3; px < (int)(f.x + f.width) - 3; px++) {
    int rgb[3];
    pixel_rgb(&im, px, row, rgb);
    if (rgb[0] < 250 && (n == 0 || px > lines[n - 1] + 2) && n < 16)
      lines[n++] = px;
  }
  assert_int_equal(n, 2);
  for (int k = 0; k < 2; k++)
    assert_near(lines[k] + 0.5, f.x + (k + 1) / 3.0 * f.width, 1.5);
  cairo_surface_destroy(im.surface);
}

#define DIR_TEST(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      DIR_TEST(test_png_file_is_valid_sized_and_not_blank),
      DIR_TEST(test_svg_and_pdf_files_start_with_their_magic),
      DIR_TEST(test_unknown_extension_fails_and_leaves_no_file),
      DIR_TEST(test_unwritable_directory_fails_with_io),
      DIR_TEST(test_save_replaces_existing_file_without_leftovers),
      DIR_TEST(test_save_rejects_bad_size_without_a_file),
      DIR_TEST(test_centred_gaussian_peaks_at_frame_centre),
      DIR_TEST(test_nan_samples_leave_a_gap),
      DIR_TEST(test_far_off_samples_stay_inside_the_frame),
      DIR_TEST(test_draw_stays_in_its_rectangle),
      DIR_TEST(test_three_panels_stack_with_aligned_frames),
      DIR_TEST(test_four_panels_make_a_two_by_two_grid),
      DIR_TEST(test_constant_empty_and_missing_data_get_padded_ranges),
      cmocka_unit_test(test_invalid_figures_are_rejected),
      cmocka_unit_test(test_auto_range_finds_a_narrow_pulse),
      cmocka_unit_test(test_auto_range_stays_within_the_samples),
      cmocka_unit_test(test_auto_range_ignores_nan_and_handles_no_data),
      cmocka_unit_test(test_palette_wraps_and_is_distinct),
      cmocka_unit_test(test_band_is_filled_see_through),
      cmocka_unit_test(test_integer_x_ticks_are_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
