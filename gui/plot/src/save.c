/* Plots as files. Each format is a cairo surface writing through one stream
 * function into the toolkit's atomic writer (shp/file.h): a temporary file
 * beside the target, synced and renamed into place only once complete, so
 * readers never see a half-written plot (the "no data lost" contract). */
#include "plot-private.h"

#include "shp/error.h"
#include "shp/file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#if CAIRO_HAS_SVG_SURFACE
#include <cairo-svg.h>
#endif
#if CAIRO_HAS_PDF_SURFACE
#include <cairo-pdf.h>
#endif

/* The largest image cairo's image surfaces accept. */
#define MAX_SIDE_PX 32767.0

typedef enum { FORMAT_PNG, FORMAT_SVG, FORMAT_PDF } plot_format;

typedef struct {
  FILE *f;
  int err; /* errno of the first failed write, 0 if none */
} sink;

static int format_of(const char *path, plot_format *format) {
  const char *slash = strrchr(path, '/');
  const char *base = slash != NULL ? slash + 1 : path;
  const char *dot = strrchr(base, '.');
  const char *ext = dot != NULL ? dot + 1 : "";
  static const struct {
    const char *ext;
    plot_format format;
  } known[] = {{"png", FORMAT_PNG}, {"svg", FORMAT_SVG}, {"pdf", FORMAT_PDF}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    if (strcasecmp(ext, known[i].ext) == 0) {
      *format = known[i].format;
      return SHP_OK;
    }
  }
  return shp_error_set(SHP_ERR_INVALID,
                       "%s: unknown plot format '%s%s' (use .png, .svg or "
                       ".pdf)",
                       path, dot != NULL ? "." : "", ext);
}

static cairo_status_t sink_write(void *closure, const unsigned char *data,
                                 unsigned int length) {
  sink *s = closure;
  if (fwrite(data, 1, length, s->f) != length) {
    s->err = errno != 0 ? errno : EIO;
    return CAIRO_STATUS_WRITE_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

/* NULL only for a format this cairo was built without; otherwise a surface,
 * possibly in an error state, which the caller checks and destroys. */
static cairo_surface_t *make_surface(plot_format format, sink *s, double w,
                                     double h) {
  switch (format) {
  case FORMAT_PNG:
    /* No alpha channel: the background is painted white anyway. */
    return cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
  case FORMAT_SVG:
#if CAIRO_HAS_SVG_SURFACE
  {
    cairo_surface_t *svg =
        cairo_svg_surface_create_for_stream(sink_write, s, w, h);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 16, 0)
    /* Sizes were asked for in pixels; cairo 1.16 defaults to points. */
    cairo_svg_surface_set_document_unit(svg, CAIRO_SVG_UNIT_PX);
#endif
    return svg;
  }
#else
    return NULL;
#endif
  case FORMAT_PDF:
#if CAIRO_HAS_PDF_SURFACE
    return cairo_pdf_surface_create_for_stream(sink_write, s, w, h);
#else
    return NULL;
#endif
  }
  return NULL;
}

static int write_failure(const char *path, const sink *s,
                         cairo_status_t status) {
  if (s->err != 0)
    return shp_error_set(SHP_ERR_WRITE, "%s: cannot write: %s", path,
                         strerror(s->err));
  int code = status == CAIRO_STATUS_NO_MEMORY ? SHP_ERR_NOMEM : SHP_ERR_WRITE;
  return shp_error_set(code, "%s: cannot write: cairo: %s", path,
                       cairo_status_to_string(status));
}

/* Draw and finish the surface; the vector surfaces stream as they go, the
 * image is encoded to PNG at the end. */
static int render(plot_format format, const shp_plot_figure *fig,
                  const char *path, sink *s, double w, double h) {
  cairo_surface_t *surface = make_surface(format, s, w, h);
  if (surface == NULL)
    return shp_error_set(SHP_ERR_INVALID,
                         "%s: this cairo was built without that format", path);
  cairo_t *cr = cairo_create(surface);
  int rc = shp_plot_draw(cr, fig, w, h);
  cairo_destroy(cr);
  cairo_status_t status = CAIRO_STATUS_SUCCESS;
  if (rc == SHP_OK && format == FORMAT_PNG)
    status = cairo_surface_write_to_png_stream(surface, sink_write, s);
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (rc != SHP_OK)
    return shp_error_prefix("%s: ", path);
  return status == CAIRO_STATUS_SUCCESS ? SHP_OK
                                        : write_failure(path, s, status);
}

static int check_size(double w, double h) {
  if (w >= 1 && w <= MAX_SIDE_PX && h >= 1 && h <= MAX_SIDE_PX)
    return SHP_OK;
  return shp_error_set(SHP_ERR_INVALID,
                       "plot: size must be within 1 to %.0f px per side, got "
                       "%g x %g",
                       MAX_SIDE_PX, w, h);
}

typedef struct {
  plot_format format;
  const shp_plot_figure *fig;
  const char *path;
  double w, h;
} save_job;

static int fill(FILE *f, void *user) {
  const save_job *job = user;
  sink s = {f, 0};
  return render(job->format, job->fig, job->path, &s, job->w, job->h);
}

int shp_plot_save(const shp_plot_figure *fig, const char *path, double width_px,
                  double height_px) {
  plot_format format = FORMAT_PNG; /* set by format_of */
  if (path == NULL)
    return shp_error_set(SHP_ERR_INVALID, "plot: path is NULL");
  int rc = format_of(path, &format);
  if (rc == SHP_OK)
    rc = check_size(width_px, height_px);
  if (rc == SHP_OK)
    rc = plot_validate(fig, width_px, height_px);
  if (rc != SHP_OK)
    return rc;
  /* Whole pixels, so the image and the figure drawn on it have one size. */
  save_job job = {format, fig, path, round(width_px), round(height_px)};
  return shp_file_write_atomic(path, fill, &job);
}
