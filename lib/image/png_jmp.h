/* libpng error handling shared by the PNG decoder and encoder: libpng's
 * error callback records the message and longjmps back to the caller's
 * setjmp; warnings are dropped (the library never prints). */
#ifndef PN_IO_PNG_JMP_H
#define PN_IO_PNG_JMP_H

#include <setjmp.h>

#include <png.h>

typedef struct pn_png_jmp {
    jmp_buf jump;
    char message[256];
    int nomem; /* pn_png_malloc failed: report NOMEM, whatever libpng says */
} pn_png_jmp;

/* Pass as png_create_*_struct_2's error and warning functions, with a
 * pn_png_jmp as the error pointer. */
void pn_png_jmp_error(png_structp png, png_const_charp msg);
void pn_png_jmp_warning(png_structp png, png_const_charp msg);
/* libpng's allocator, through pn_malloc; the same pn_png_jmp is the mem pointer. */
png_voidp pn_png_malloc(png_structp png, png_alloc_size_t bytes);
void pn_png_free(png_structp png, png_voidp p);

#endif
