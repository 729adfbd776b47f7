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

/* Strict integer and float parsing of option values; exit(2) with a message. */
long cli_long(const char *prog, const char *flag, const char *v, long lo, long hi);
double cli_double(const char *prog, const char *flag, const char *v, double lo, double hi);

/* Loss, accuracy, confusion matrix and classification report of an evaluation. */
void cli_print_evaluation(FILE *f, const pneumo_evaluation *ev, const pneumo_dataset *ds);

#endif
