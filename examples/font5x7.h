/* A tiny built-in 5x7 bitmap font for labelling images (previews, reports).
 *
 * Each glyph is 5 columns x 7 rows; a character cell advances 6 columns (one
 * blank column between glyphs) and a line is 8 rows (text lines sit 1 row
 * apart), all multiplied by an integer scale. Covered: printable ASCII except
 * $ & @ \ ^ ` { | } ~; those, and any byte outside 0x20..0x7E, are drawn as
 * '?'. A newline starts a new line at the original x.
 *
 * The code depends only on the public image accessors; it is not part of
 * libpneumo but a small static library of examples/ that pneumo-preview and
 * its test link. Reentrant; no global state besides the constant glyph
 * table. */
#ifndef PNEUMO_EXAMPLES_FONT5X7_H
#define PNEUMO_EXAMPLES_FONT5X7_H

#include "pneumo/image.h"

#define PN_FONT5X7_W 5       /* glyph width in font pixels */
#define PN_FONT5X7_H 7       /* glyph height */
#define PN_FONT5X7_ADVANCE 6 /* horizontal step per character */
#define PN_FONT5X7_LINE 8    /* vertical step per line */

/* The 7 rows of `c`'s glyph, top to bottom; in each row bit 4 (0x10) is the
 * leftmost column and bit 0 the rightmost. Unsupported characters give '?'. */
const uint8_t *pn_font5x7_glyph(char c);

/* Width and height in pixels of `text` drawn at `scale` (>= 1): the widest line
 * is n * 6 * scale - scale wide (no trailing blank column), k lines are
 * k * 8 * scale - scale tall. 0 for NULL/empty text or scale < 1. */
int32_t pn_font5x7_text_width(const char *text, int32_t scale);
int32_t pn_font5x7_text_height(const char *text, int32_t scale);

/* Draw `text` with its top-left corner at (x, y) (may be negative or beyond
 * the image), each font pixel a scale x scale square set to `value`; pixels
 * falling outside the image are skipped. Background pixels are not touched.
 * Does nothing for a NULL image or text, or scale < 1. */
void pn_font5x7_draw(pneumo_image *img, int32_t x, int32_t y, const char *text, int32_t scale, uint8_t value);

#endif
