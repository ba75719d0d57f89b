/* Text for plots: Pango when the build found it (proper shaping, font
 * fallback, ellipsizing), otherwise cairo's own "toy" text API, so the
 * library still builds where only cairo is installed. Both paths measure and
 * place text by its logical box, so the layout code needs no #ifdefs. */
#include "plot-private.h"

#include <math.h>

#ifdef SHP_PLOT_HAVE_PANGO
#include <pango/pangocairo.h>
#endif

static double role_size(const plot_metrics *m, text_role role) {
  switch (role) {
  case TEXT_TICK:
    return m->font;
  case TEXT_LABEL:
  case TEXT_NOTE:
    return 1.1 * m->font;
  case TEXT_PANEL_TITLE:
    return 1.15 * m->font;
  case TEXT_FIGURE_TITLE:
    return 1.3 * m->font;
  case TEXT_LEGEND:
    return 0.95 * m->font;
  }
  return m->font;
}

static bool role_bold(text_role role) {
  return role == TEXT_PANEL_TITLE || role == TEXT_FIGURE_TITLE;
}

#ifdef SHP_PLOT_HAVE_PANGO

/* The caller unrefs the layout. */
static PangoLayout *make_layout(cairo_t *cr, const plot_metrics *m,
                                text_role role, const char *text,
                                double max_size) {
  PangoLayout *layout = pango_cairo_create_layout(cr);
  PangoFontDescription *desc = pango_font_description_new();
  pango_font_description_set_family(desc, "Sans");
  pango_font_description_set_absolute_size(desc,
                                           role_size(m, role) * PANGO_SCALE);
  if (role_bold(role))
    pango_font_description_set_weight(desc, PANGO_WEIGHT_BOLD);
  pango_layout_set_font_description(layout, desc);
  pango_font_description_free(desc);
  pango_layout_set_text(layout, text, -1);
  if (max_size > 0) {
    pango_layout_set_width(layout, (int)(max_size * PANGO_SCALE));
    pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
  }
  return layout;
}

/* Logical extents in user units; Pango's pixel variant rounds, which would
 * shift centred text by up to half a pixel. */
static void layout_box(PangoLayout *layout, double *x, double *y, double *w,
                       double *h) {
  PangoRectangle logical;
  pango_layout_get_extents(layout, NULL, &logical);
  *x = (double)logical.x / PANGO_SCALE;
  *y = (double)logical.y / PANGO_SCALE;
  *w = (double)logical.width / PANGO_SCALE;
  *h = (double)logical.height / PANGO_SCALE;
}

void plot_text_size(cairo_t *cr, const plot_metrics *m, text_role role,
                    const char *text, double *w, double *h) {
  PangoLayout *layout = make_layout(cr, m, role, text, 0);
  double x, y;
  layout_box(layout, &x, &y, w, h);
  g_object_unref(layout);
}

#else /* cairo toy text */

static void select_font(cairo_t *cr, const plot_metrics *m, text_role role) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         role_bold(role) ? CAIRO_FONT_WEIGHT_BOLD
                                         : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, role_size(m, role));
}

void plot_text_size(cairo_t *cr, const plot_metrics *m, text_role role,
                    const char *text, double *w, double *h) {
  cairo_text_extents_t te;
  cairo_font_extents_t fe;
  cairo_save(cr);
  select_font(cr, m, role);
  cairo_text_extents(cr, text, &te);
  cairo_font_extents(cr, &fe);
  cairo_restore(cr);
  *w = te.x_advance;
  *h = fe.ascent + fe.descent;
}

#endif

/* Move the origin to the top-left corner of the text as it will be read,
 * rotating for vertical text so the same drawing code serves both. */
static void place_origin(cairo_t *cr, double x, double y, double w, double h,
                         const text_place *place) {
  if (place->vertical) {
    /* The rotated box is h wide and w tall; text runs bottom to top. */
    double left = x - place->ax * h;
    double top = y - place->ay * w;
    cairo_translate(cr, left, top + w);
    cairo_rotate(cr, -M_PI / 2);
  } else {
    cairo_translate(cr, x - place->ax * w, y - place->ay * h);
  }
}

void plot_text_draw(cairo_t *cr, const plot_metrics *m, text_role role,
                    const char *text, double x, double y,
                    const text_place *place) {
  if (text == NULL || text[0] == '\0')
    return;
  cairo_save(cr);
#ifdef SHP_PLOT_HAVE_PANGO
  PangoLayout *layout = make_layout(cr, m, role, text, place->max_size);
  double lx, ly, w, h;
  layout_box(layout, &lx, &ly, &w, &h);
  place_origin(cr, x, y, w, h, place);
  /* The layout was made before the rotation; tell Pango about it so glyphs
   * are hinted for the final orientation. */
  pango_cairo_update_layout(cr, layout);
  cairo_move_to(cr, -lx, -ly);
  pango_cairo_show_layout(cr, layout);
  g_object_unref(layout);
#else
  double w, h;
  cairo_font_extents_t fe;
  plot_text_size(cr, m, role, text, &w, &h);
  select_font(cr, m, role);
  cairo_font_extents(cr, &fe);
  place_origin(cr, x, y, w, h, place);
  cairo_move_to(cr, 0, fe.ascent);
  cairo_show_text(cr, text);
#endif
  cairo_restore(cr);
}
