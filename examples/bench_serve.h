/* pneumo-bench: mode serve (pneumo-serve over loopback); see bench_serve.c. */
#ifndef PNEUMO_BENCH_SERVE_H
#define PNEUMO_BENCH_SERVE_H

/* Arguments after the mode name; returns the exit status. */
int bench_mode_serve(int argc, char **argv);

#endif
