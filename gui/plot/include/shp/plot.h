/* Line plots of sampled curves, drawn with cairo only.
 *
 * The CLI writes them to PNG, SVG or PDF files and the GUI draws the same
 * figures into its widgets, so both show a pulse the same way. A figure is a
 * plain description the caller owns: panels of series that point at the
 * caller's arrays. Nothing here copies or keeps those arrays, so a figure is
 * only valid while they are.
 *
 * Every function returns SHP_OK (0) or a negative SHP_ERR_* code and leaves
 * the sentence explaining the failure in shp_error_detail(). None prints,
 * exits or aborts. */
#ifndef SHP_PLOT_H
#define SHP_PLOT_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SHP_PLOT_LINE,
  SHP_PLOT_DASHED,
  SHP_PLOT_DOTTED,
  SHP_PLOT_POINTS,
  /* A shaded area: the samples are its outline, in order (e.g. a band's
   * upper edge left to right, then its lower edge right to left), filled
   * see-through in the series' colour so the curves under it still show.
   * A NaN sample is skipped. The legend shows a filled swatch. */
  SHP_PLOT_BAND
} shp_plot_style;

/* One curve: n samples (x[i], y[i]). A sample with a NaN or infinite
 * coordinate is skipped and breaks the line, so gaps in data show as gaps.
 * x and y may be NULL only when n is 0. */
typedef struct {
  const double *x, *y;
  size_t n;
  const char *label;    /* legend text; NULL or "" leaves it out */
  shp_plot_style style; /* how the samples are joined */
  int color; /* index into the colour-blind-safe palette; negative = the
                series' position in its panel */
} shp_plot_series;

/* One set of axes. Labels carry their units as given ("time (ps)"). When
 * fixed_x is false the x range comes from shp_plot_auto_range with
 * SHP_PLOT_AUTO_THRESHOLD; when fixed_y is false the y range spans the
 * samples inside the x range, padded by 5 % on each side. */
typedef struct {
  const char *title, *xlabel, *ylabel; /* each may be NULL */
  const shp_plot_series *series;
  size_t series_count;
  bool fixed_x;
  double xmin, xmax; /* used when fixed_x; must be finite, xmin < xmax */
  bool fixed_y;
  double ymin, ymax; /* used when fixed_y; must be finite, ymin < ymax */
  /* x ticks at whole numbers only (counts, such as oven moves). */
  bool integer_x;
} shp_plot_panel;

/* Panels are stacked vertically, or laid out in a grid of ceil(sqrt(n))
 * columns when there are more than three. */
typedef struct {
  const char *title; /* at the top, e.g. the metrics line; may be NULL */
  const shp_plot_panel *panels;
  size_t panel_count;
} shp_plot_figure;

/* Where a panel's axes ended up, so a GUI can map the pointer to data. The
 * rectangle is in the user space of the cairo context that was laid out. */
typedef struct {
  double x, y, width, height; /* the plot area inside the axes frame */
  double xmin, xmax;          /* data at its left and right edges */
  double ymin, ymax;          /* data at its bottom and top edges */
} shp_plot_frame;

/* Fraction of a panel's peak |y| that the automatic x range keeps. */
#define SHP_PLOT_AUTO_THRESHOLD 1e-3

/* Draw fig into the rectangle (0, 0, width, height) of cr's user space,
 * white background included, whatever the surface behind cr (widget, image,
 * SVG, PDF). cr's state is restored on return; its current path is not
 * (cairo does not save paths), so draw before building one. Errors:
 * SHP_ERR_INVALID (NULL argument, size not positive and finite, series with
 * samples but no arrays, a fixed range that is not finite and increasing),
 * SHP_ERR_NOMEM or SHP_ERR_IO when cairo fails (cr is then in an error state).
 */
int shp_plot_draw(cairo_t *cr, const shp_plot_figure *fig, double width,
                  double height);

/* The frames that shp_plot_draw with the same arguments draws, one per panel
 * into frames[0 .. panel_count-1]; cr is only used to measure text and is
 * left unchanged. Errors: those of shp_plot_draw, and SHP_ERR_INVALID when
 * frame_count < fig->panel_count. */
int shp_plot_layout(cairo_t *cr, const shp_plot_figure *fig, double width,
                    double height, shp_plot_frame *frames, size_t frame_count);

/* Write fig to path as PNG, SVG or PDF, chosen by the extension (any case).
 * width_px and height_px are the image size in pixels (points for PDF), each
 * in [1, 32767]. The file is written to a temporary file in the same
 * directory and renamed over path, so a half-written plot is never left
 * behind and an existing file is only replaced by a complete one. The new
 * file has mode 0644. Errors: SHP_ERR_INVALID (unknown extension, bad size,
 * invalid figure; no file is created), SHP_ERR_IO (the directory cannot be
 * written or the write failed, naming path), SHP_ERR_NOMEM. */
int shp_plot_save(const shp_plot_figure *fig, const char *path, double width_px,
                  double height_px);

/* The x range worth showing in panel p: from the first to the last sample
 * (over all series) whose |y| exceeds threshold times the panel's peak |y|,
 * padded by 10 % of that span on each side and kept within the samples' x
 * extent. So a short pulse in a long time window fills the plot instead of
 * being a spike on a flat line. A single sample above the threshold is
 * widened to 2 % of the extent. A panel without finite samples gives [0, 1].
 * Errors: SHP_ERR_INVALID (NULL argument, threshold outside [0, 1), series
 * with samples but no arrays). */
int shp_plot_auto_range(const shp_plot_panel *p, double threshold, double *xmin,
                        double *xmax);

/* The palette series colours come from (Okabe and Ito, "Color Universal
 * Design", 2008, reordered so the first colours are the most distinct on
 * white). shp_plot_palette_rgb writes the colour of index (taken modulo the
 * palette size, negative as 0) as red, green, blue in [0, 1]. */
size_t shp_plot_palette_size(void);
void shp_plot_palette_rgb(int index, double rgb[3]);

#ifdef __cplusplus
}
#endif
#endif
