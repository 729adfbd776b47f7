/* Helpers shared by the command-line programs. */
#ifndef PNEUMO_EXAMPLES_CLI_COMMON_H
#define PNEUMO_EXAMPLES_CLI_COMMON_H

#include <stdio.h>

#include <pneumo/pneumo.h>

/* Python's repr() of a float (shortest text that reads back exactly, "2.0" for
 * integral values), for printing class weights as the article does. */
void cli_format_repr(double v, char *buf, size_t size);

/* Print the dataset's "Found N images belonging to K classes." line, then
 * (verbose) each class with its count, the balanced class weights as a Python
 * dict, and every skipped file. Returns 0, or 1 after printing an error. */
int cli_print_dataset(FILE *f, const char *prog, const pneumo_dataset *ds, int verbose);

/* A pneumo_write_fn writing to the FILE * `stream` (flushed, so progress
 * shows at once): PNEUMO_OK, or PNEUMO_ERR_IO when the write fails. */
pneumo_status cli_write_stream(void *stream, const void *data, size_t size);

/* A dataset's class name, image path or skipped-file line written into
 * buf (the library's string convention); returns buf, "?" when out of range. */
const char *cli_class_name(const pneumo_dataset *ds, int32_t c, char *buf, size_t size);
const char *cli_path(const pneumo_dataset *ds, int64_t i, char *buf, size_t size);
const char *cli_skipped(const pneumo_dataset *ds, int64_t i, char *buf, size_t size);

/* "PROG (libpneumo X.Y.Z)" on stdout for --version; returns 0. */
int cli_version(const char *prog);

/* "PROG: OPTION: WHY (see PROG --help)" on stderr, e.g. for an unknown option
 * or a missing value; returns 2, the exit status for bad usage. */
int cli_bad_option(const char *prog, const char *option, const char *why);

/* Check before any work that `path` (given with `flag`) can be written: its
 * folder exists and is writable, and it is not a folder itself. Returns 0, or
 * 1 after printing an error naming the flag and the path. */
int cli_check_output(const char *prog, const char *flag, const char *path);

/* Write a text file atomically: cli_fopen_atomic opens "PATH.tmp.PID" (tmp
 * receives its name, at least 4200 bytes); cli_fclose_atomic closes it and,
 * if ok and every write succeeded, renames it over PATH, else removes it.
 * Returns 0, or 1 after printing an error. */
FILE *cli_fopen_atomic(const char *prog, const char *path, char *tmp, size_t tmp_size);
int cli_fclose_atomic(const char *prog, FILE *f, const char *tmp, const char *path, int ok);

/* Strict integer and float parsing of option values; exit(2) with a message. */
long cli_long(const char *prog, const char *flag, const char *v, long lo, long hi);
double cli_double(const char *prog, const char *flag, const char *v, double lo, double hi);

/* Loss, accuracy, confusion matrix and classification report of an evaluation. */
void cli_print_evaluation(FILE *f, const pneumo_evaluation *ev, const pneumo_dataset *ds);

/* ---- HTML report (pneumo/report.h) ---- */

/* "DIR/report.html" for a text report path "DIR/x.txt" ("report.html" when it
 * has no directory), written into buf. */
void cli_html_path_next_to(const char *text_report, char *buf, size_t size);

/* Add a key/value row to the report's settings; printf-style value. Returns 0,
 * or 1 after printing an error. */
int cli_report_setting(pneumo_report *r, const char *prog, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Add the evaluation of `ds` (probs/labels as pneumo_model_evaluate() returned
 * them, in dataset order; may be NULL) named `name`, with the dataset's class
 * names. Returns 0, or 1 after printing an error. */
int cli_report_evaluation(pneumo_report *r, const char *prog, const char *name, const pneumo_evaluation *ev,
                          const float *probs, const float *labels, const pneumo_dataset *ds);

/* Add up to `count` images of `ds` (w x h, the dataset's size), spread evenly
 * over the dataset order, as the pipeline sees them (resized, rescaled back to
 * 8 bits; no augmentation), each titled like the
 * article: "97.31% probability of being Pneumonia case\nActual case: PNEUMONIA"
 * with probs[i] (dataset order). Returns 0, or 1 after printing an error. */
int cli_report_samples(pneumo_report *r, const char *prog, pneumo_dataset *ds, int32_t w, int32_t h,
                       const float *probs, int count);

#endif
