/* pneumo-bench: model modes (training, inference, per-layer times, FMA peak,
 * peak RSS, PyTorch comparison); see bench_model.c. */
#ifndef PNEUMO_BENCH_MODEL_H
#define PNEUMO_BENCH_MODEL_H

/* Modes: arguments after the mode name; return the exit status. */
int bench_mode_train(int argc, char **argv);
int bench_mode_infer(int argc, char **argv);
int bench_mode_all(int argc, char **argv);
/* Hidden: a process that only trains (the parent reads its peak RSS). */
int bench_mode_train_rss(int argc, char **argv);

/* FMA peak kernels (bench_peak.c, x86_64 only): run `iters` iterations of
 * independent FMA chains; return the floating-point operations done. Call
 * only when the CPU supports the ISA. */
double bench_peak_fma_avx512(long iters, float seed);
double bench_peak_fma_avx2(long iters, float seed);

#endif
