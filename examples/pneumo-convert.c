/* pneumo-convert: move a model between libpneumo, Keras and ONNX files.
 *
 *   pneumo-convert [--nchw] [--opset N] [--batch N] IN OUT
 *
 * The conversion follows the file names' extensions:
 *   model.safetensors -> model.onnx         ONNX export (input NHWC unless --nchw)
 *   model.h5          -> model.safetensors  Keras HDF5 import (with its optimizer)
 *   model.h5          -> model.onnx         both in one go
 * See docs/interoperability.md.
 *
 * A .h5 input is read by libhdf5, which is not hardened against crafted files
 * (a corrupt one can crash it): the conversion then runs in a child process
 * with CPU and memory limits, so a crash is reported as an error and, the
 * outputs being written atomically, leaves nothing behind. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

static int usage(FILE *f)
{
    fprintf(f, "usage: pneumo-convert [--nchw] [--opset N] [--batch N] IN OUT\n"
               "Convert by extension: .safetensors -> .onnx (ONNX export), .h5 -> .safetensors\n"
               "(Keras HDF5 import), .h5 -> .onnx. --nchw: ONNX input (N, C, H, W) instead of\n"
               "(N, H, W, C); --opset: ONNX opset 13..21 (default 13); --batch: fixed batch size\n"
               "(default: symbolic N).\n");
    return f == stdout ? 0 : 2;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    pneumo_onnx_options o;
    const char *in = NULL, *out = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_status st;
    long v;
    int in_h5, out_onnx;

    pneumo_onnx_options_default(&o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nchw") == 0) {
            o.input_layout = PNEUMO_ONNX_NCHW;
        } else if (strcmp(argv[i], "--opset") == 0 && i + 1 < argc) {
            if (!parse_int(argv[++i], 13, 21, &v)) {
                fprintf(stderr, "pneumo-convert: --opset must be an integer in 13..21\n");
                return 2;
            }
            o.opset = (int32_t)v;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (!parse_int(argv[++i], 0, 1 << 20, &v)) {
                fprintf(stderr, "pneumo-convert: --batch must be an integer in 0..1048576\n");
                return 2;
            }
            o.batch = (int32_t)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return usage(stdout);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage(stderr);
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            return usage(stderr);
        }
    }
    if (!in || !out)
        return usage(stderr);
    in_h5 = ends_with(in, ".h5") || ends_with(in, ".hdf5");
    out_onnx = ends_with(out, ".onnx");
    if (!in_h5 && !ends_with(in, ".safetensors")) {
        fprintf(stderr, "pneumo-convert: %s: expected a .safetensors or .h5 input\n", in);
        return 2;
    }
    if (!out_onnx && !ends_with(out, ".safetensors")) {
        fprintf(stderr, "pneumo-convert: %s: expected a .onnx or .safetensors output\n", out);
        return 2;
    }
    if (!in_h5 && !out_onnx) {
        fprintf(stderr, "pneumo-convert: %s -> %s: nothing to convert (both libpneumo files)\n", in, out);
        return 2;
    }

    if (in_h5) {
        /* the parent only waits: the child converts (see the file comment) */
        pid_t pid;
        int wst = 0;
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
            perror("pneumo-convert: fork");
            return 1;
        }
        if (pid > 0) {
            while (waitpid(pid, &wst, 0) < 0)
                ;
            if (WIFSIGNALED(wst)) {
                fprintf(
                    stderr,
                    "pneumo-convert: %s: reading the HDF5 file crashed libhdf5 (signal %d: %s); the file is "
                    "corrupt or hostile, nothing was written\n",
                    in, WTERMSIG(wst), strsignal(WTERMSIG(wst)));
                return 1;
            }
            return WIFEXITED(wst) ? WEXITSTATUS(wst) : 1;
        }
        {
            struct rlimit cpu = {600, 600}, as = {(rlim_t)16 << 30, (rlim_t)16 << 30};
            setrlimit(RLIMIT_CPU, &cpu);
            setrlimit(RLIMIT_AS, &as);
        }
    }
    st = in_h5 ? pneumo_model_import_keras_h5(in, &m, out_onnx ? NULL : &opt)
               : pneumo_model_load(in, &m, NULL);
    if (st == PNEUMO_OK)
        st = out_onnx ? pneumo_model_export_onnx(m, &o, out) : pneumo_model_save(m, opt, out);
    if (st != PNEUMO_OK) {
        fprintf(stderr, "pneumo-convert: %s\n", pneumo_last_error());
        pneumo_optimizer_destroy(opt);
        pneumo_model_destroy(m);
        return 1;
    }
    printf("%s -> %s: %d layers, %lld parameters%s\n", in, out, pneumo_model_num_layers(m),
           (long long)pneumo_model_num_params(m), opt ? ", optimizer state" : "");
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    return 0;
}
