/* pneumo-bench serve: pneumo-serve driven over loopback by a
 * small HTTP/1.1 client (one keep-alive connection per client thread), at 1, 4
 * and 16 concurrent clients, next to the library's own batch-inference img/s
 * measured in the same run on the same model and image.
 *
 *   pneumo-bench serve [--model M | --size N] [--image FILE] [--data DIR] [--threads N]
 *                      [--seconds S] [--server PATH] [--quick] [--heatmap] [-- SERVER OPTIONS]
 *
 * Without --model the article's model at N x N (default 500; random weights:
 * the cost of inference does not depend on them) is saved to a temporary file.
 * The image is --image, else the first JPEG of DIR/chest_xray_224/val/Normal
 * (DIR default ../shared/data), else a synthetic PNG at the model's input size.
 * The library figure: pneumo_model_predict() on batches of 16 with --threads
 * threads (default: online cores), the input preprocessed once (decoding is
 * not counted there, while every server request decodes its upload),
 * measured before each level and after the last; each level is compared with
 * the mean of the two measurements around it, in img/s and in CPU time.
 * The server runs with --threads workers; each level runs 1 s of warm-up and
 * S seconds (default 10; --quick: size 128, 1 s, no warm-up) of closed-loop
 * requests. --server defaults to pneumo-serve next to this program; options
 * after "--" go to pneumo-serve (e.g. -- --max-batch 16). */
#include "bench_serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#define PROG "pneumo-bench serve"
#define MAX_CLIENTS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)ceil(q * (double)n);
    return v[i == 0 ? 0 : i - 1];
}

static int read_file(const char *path, unsigned char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = n > 0 ? malloc((size_t)n) : NULL;
    int ok = *data && fread(*data, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        free(*data);
        return -1;
    }
    *size = (size_t)n;
    return 0;
}

/* CPU seconds (user + system, all threads) the process has used so far. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return NAN;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the HTTP client ---------------------------------------------------- */

typedef struct client {
    int port;
    const unsigned char *image;
    size_t image_size;
    const char *content_type;
    const char *query;
    volatile const int *phase; /* 0 warm-up, 1 timed, 2 stop */
    double *lat;               /* latencies of timed requests, seconds */
    size_t nlat, cap;
    long batch_sum; /* sum of "batch_size" over timed answers */
    long errors;
    char error[256];
} client;

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One request on fd; the answer's status and body (NUL-terminated, in buf). */
static int exchange(client *c, int fd, char *buf, size_t cap, int *status, char **body)
{
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /api/v1/diagnose%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      c->query, c->content_type, c->image_size);
    if (send_all(fd, head, (size_t)hn) || send_all(fd, c->image, c->image_size))
        return -1;
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got + 1 >= cap)
            return -1;
        ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *status = atoi(buf + 9);
    const char *cl = strstr(buf, "Content-Length:");
    if (!cl)
        cl = strstr(buf, "content-length:");
    if (!cl || cl > end)
        return -1;
    size_t len = (size_t)strtoul(cl + 15, NULL, 10), hlen = (size_t)(end + 4 - buf);
    if (hlen + len + 1 > cap)
        return -1;
    while (got < hlen + len) {
        ssize_t k = recv(fd, buf + got, hlen + len - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    buf[hlen + len] = '\0';
    *body = buf + hlen;
    return 0;
}

static void *client_main(void *arg)
{
    client *c = arg;
    size_t cap = 4 << 20;
    char *buf = malloc(cap);
    int fd = connect_local(c->port);
    if (!buf || fd < 0) {
        snprintf(c->error, sizeof c->error, "cannot connect to port %d", c->port);
        c->errors++;
        free(buf);
        return NULL;
    }
    while (*c->phase < 2) {
        int timed = *c->phase == 1, status = 0;
        char *body = NULL;
        double t0 = now_s();
        if (exchange(c, fd, buf, cap, &status, &body) != 0) {
            c->errors++;
            snprintf(c->error, sizeof c->error, "connection failed");
            close(fd);
            if ((fd = connect_local(c->port)) < 0)
                break;
            continue;
        }
        double dt = now_s() - t0;
        if (status != 200) {
            c->errors++;
            snprintf(c->error, sizeof c->error, "HTTP %d: %.200s", status, body);
            continue;
        }
        if (!timed || *c->phase != 1)
            continue;
        if (c->nlat == c->cap) {
            size_t ncap = c->cap ? 2 * c->cap : 4096;
            double *l = realloc(c->lat, ncap * sizeof *l);
            if (!l)
                break;
            c->lat = l;
            c->cap = ncap;
        }
        c->lat[c->nlat++] = dt;
        const char *bs = strstr(body, "\"batch_size\": ");
        if (bs)
            c->batch_sum += strtol(bs + 14, NULL, 10);
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

typedef struct level_result {
    int clients;
    double rps, p50_ms, p99_ms, mean_batch, cpu_ms;
    double lib, lib_cpu; /* the library's img/s and CPU ms/img around this level */
    long requests, errors;
} level_result;

static int run_level(pid_t server, int port, int nclients, double warmup_s, double seconds,
                     const unsigned char *image, size_t image_size, const char *ctype, const char *query,
                     level_result *out)
{
    client cl[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    volatile int phase = warmup_s > 0 ? 0 : 1;
    memset(cl, 0, sizeof cl);
    for (int i = 0; i < nclients; i++) {
        cl[i].port = port;
        cl[i].image = image;
        cl[i].image_size = image_size;
        cl[i].content_type = ctype;
        cl[i].query = query;
        cl[i].phase = &phase;
        if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
            fprintf(stderr, PROG ": cannot start client thread\n");
            phase = 2;
            for (int j = 0; j < i; j++)
                pthread_join(th[j], NULL);
            return 1;
        }
    }
    if (warmup_s > 0) {
        struct timespec ts = {(time_t)warmup_s, (long)((warmup_s - floor(warmup_s)) * 1e9)};
        nanosleep(&ts, NULL);
        phase = 1;
    }
    double t0 = now_s(), c0 = proc_cpu_s(server);
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    nanosleep(&ts, NULL);
    phase = 2;
    double elapsed = now_s() - t0, cpu = proc_cpu_s(server) - c0;
    size_t n = 0;
    long batch_sum = 0, errors = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        n += cl[i].nlat;
        batch_sum += cl[i].batch_sum;
        errors += cl[i].errors;
        if (cl[i].errors)
            fprintf(stderr, PROG ": client %d: %ld errors, last: %s\n", i, cl[i].errors, cl[i].error);
    }
    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < nclients; i++) {
        if (all)
            memcpy(all + k, cl[i].lat, cl[i].nlat * sizeof *all);
        k += cl[i].nlat;
        free(cl[i].lat);
    }
    if (!all)
        return 1;
    out->clients = nclients;
    out->requests = (long)n;
    out->errors = errors;
    out->rps = (double)n / elapsed;
    out->p50_ms = percentile(all, n, 0.50) * 1e3;
    out->p99_ms = percentile(all, n, 0.99) * 1e3;
    out->mean_batch = n ? (double)batch_sum / (double)n : NAN;
    out->cpu_ms = n ? cpu * 1e3 / (double)n : NAN;
    free(all);
    return 0;
}

/* ---- the server process -------------------------------------------------- */

typedef struct server_proc {
    pid_t pid;
    int err_fd;
    pthread_t drain;
} server_proc;

/* Discard the server's log lines so its stderr pipe never fills. */
static void *drain_main(void *arg)
{
    server_proc *s = arg;
    char buf[4096];
    while (read(s->err_fd, buf, sizeof buf) > 0) {
    }
    return NULL;
}

/* pneumo-serve --model M --listen 127.0.0.1:0 --threads N [extra...] */
static int start_server(const char *server, const char *model, int threads, char **extra, int nextra,
                        server_proc *s, int *port)
{
    int fds[2];
    char th[16];
    char *args[64];
    int na = 0;
    snprintf(th, sizeof th, "%d", threads);
    args[na++] = (char *)server;
    args[na++] = "--model";
    args[na++] = (char *)model;
    args[na++] = "--listen";
    args[na++] = "127.0.0.1:0";
    args[na++] = "--threads";
    args[na++] = th;
    for (int i = 0; i < nextra && na < 63; i++)
        args[na++] = extra[i];
    args[na] = NULL;
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(server, args);
        fprintf(stderr, "cannot run %s: %s\n", server, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    s->err_fd = fds[0];
    /* the first line names the address */
    char line[1024];
    size_t n = 0;
    *port = 0;
    while (n + 1 < sizeof line) {
        ssize_t k = read(s->err_fd, line + n, 1);
        if (k <= 0)
            break;
        if (line[n] == '\n') {
            line[n] = '\0';
            const char *p = strstr(line, "on http://127.0.0.1:");
            if (p) {
                *port = atoi(p + 20);
                break;
            }
            fprintf(stderr, "%s\n", line);
            n = 0;
            continue;
        }
        n++;
    }
    if (*port <= 0) {
        fprintf(stderr, PROG ": %s did not start\n", server);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        close(s->err_fd);
        return -1;
    }
    pthread_create(&s->drain, NULL, drain_main, s);
    return 0;
}

static int stop_server(server_proc *s)
{
    int status = 0;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, &status, 0);
    pthread_join(s->drain, NULL);
    close(s->err_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the library's batch-inference figure -------------------------------- */

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Median img/s of batches of 16; *cpu_ms: CPU time per image over all of them. */
static double batch_img_per_s(pneumo_model *m, const pneumo_image *img, int threads, double seconds,
                              double *cpu_ms)
{
    int32_t h = 0, w = 0, c = 0;
    const int batch = 16;
    pneumo_model_input_shape(m, &h, &w, &c);
    pneumo_preprocessing prep;
    pneumo_preprocessing_default(&prep);
    pneumo_model_preprocessing(m, &prep);
    pneumo_image *resized = NULL;
    if (pneumo_image_resize(img, w, h, (pneumo_resample)prep.resample, &resized) != PNEUMO_OK)
        return NAN;
    int64_t xs[4] = {batch, h, w, 1}, os[2] = {batch, 1};
    pneumo_tensor *x = NULL, *out = NULL;
    if (pneumo_tensor_create(4, xs, &x) != PNEUMO_OK || pneumo_tensor_create(2, os, &out) != PNEUMO_OK) {
        pneumo_image_destroy(resized);
        pneumo_tensor_destroy(x);
        return NAN;
    }
    float *d = pneumo_tensor_data(x);
    const uint8_t *px = pneumo_image_pixels(resized);
    for (int b = 0; b < batch; b++)
        for (int64_t i = 0; i < (int64_t)h * w; i++)
            d[(int64_t)b * h * w + i] = (float)px[i] * prep.rescale;
    pneumo_model_set_threads(m, threads);
    double rates[256];
    int n = 0;
    pneumo_model_predict(m, x, out); /* warm-up */
    double start = now_s(), c0 = cpu_now();
    while (n < 256 && (n < 3 || now_s() - start < seconds)) {
        double t0 = now_s();
        if (pneumo_model_predict(m, x, out) != PNEUMO_OK)
            break;
        rates[n++] = batch / (now_s() - t0);
    }
    *cpu_ms = n ? (cpu_now() - c0) * 1e3 / (double)(n * batch) : NAN;
    pneumo_image_destroy(resized);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(out);
    return n ? percentile(rates, (size_t)n, 0.5) : NAN;
}

static int usage(FILE *f)
{
    fprintf(
        f,
        "usage: pneumo-bench serve [--model M | --size N] [--image FILE] [--data DIR] [--threads N]\n"
        "                          [--seconds S] [--server PATH] [--quick] [--heatmap] [-- SERVER OPTIONS]\n");
    return f == stdout ? 0 : 2;
}

static long arg_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, PROG ": %s must be an integer in %ld..%ld (got '%s')\n", flag, lo, hi, v);
        exit(2);
    }
    return x;
}

int bench_mode_serve(int argc, char **argv)
{
    const char *model_path = NULL, *image_path = NULL, *data = "../shared/data", *server = NULL;
    int size = 0, quick = 0, heatmap = 0, nextra = 0;
    char **extra = NULL;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = online > 0 ? (int)online : 1;
    double seconds = 10;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0)
            return usage(stdout);
        if (strcmp(a, "--") == 0) {
            extra = argv + i + 1;
            nextra = argc - i - 1;
            if (nextra > 48)
                return usage(stderr);
            break;
        }
        if (strcmp(a, "--quick") == 0) {
            quick = 1;
            continue;
        }
        if (strcmp(a, "--heatmap") == 0) {
            heatmap = 1;
            continue;
        }
        if (!v)
            return usage(stderr);
        i++;
        if (strcmp(a, "--model") == 0)
            model_path = v;
        else if (strcmp(a, "--image") == 0)
            image_path = v;
        else if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--server") == 0)
            server = v;
        else if (strcmp(a, "--size") == 0)
            size = (int)arg_long(a, v, 94, 2048);
        else if (strcmp(a, "--threads") == 0)
            threads = (int)arg_long(a, v, 1, 64);
        else if (strcmp(a, "--seconds") == 0)
            seconds = (double)arg_long(a, v, 1, 3600);
        else
            return usage(stderr);
    }
    if (quick) {
        seconds = 1;
        if (!size)
            size = 128;
    }
    if (!size)
        size = 500;
    char server_buf[4096];
    if (!server) {
        ssize_t n = readlink("/proc/self/exe", server_buf, sizeof server_buf - 32);
        if (n <= 0) {
            fprintf(stderr, PROG ": cannot find pneumo-serve: pass --server PATH\n");
            return 2;
        }
        server_buf[n] = '\0';
        char *slash = strrchr(server_buf, '/');
        snprintf(slash ? slash + 1 : server_buf, 32, "pneumo-serve");
        server = server_buf;
    }
    if (access(server, X_OK) != 0) {
        fprintf(stderr, PROG ": %s is not an executable (build with -Dserver=enabled or pass --server)\n",
                server);
        return 1;
    }

    /* the model */
    pneumo_model *m = NULL;
    char tmp_model[] = "/tmp/pneumo-bench-serve-XXXXXX";
    char tmp_file[sizeof tmp_model + 32] = "";
    if (model_path) {
        if (pneumo_model_load(model_path, &m, NULL) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            return 1;
        }
    } else {
        if (!mkdtemp(tmp_model) || pneumo_model_create_article(size, 42, &m) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", m ? strerror(errno) : pneumo_last_error());
            return 1;
        }
        snprintf(tmp_file, sizeof tmp_file, "%s/article-%d.safetensors", tmp_model, size);
        if (pneumo_model_save(m, NULL, tmp_file) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            pneumo_model_destroy(m);
            return 1;
        }
        model_path = tmp_file;
    }
    int32_t h = 0, w = 0, c = 0;
    pneumo_model_input_shape(m, &h, &w, &c);

    /* the image */
    unsigned char *image = NULL;
    size_t image_size = 0;
    char found[4096] = "";
    const char *ctype = "image/jpeg";
    if (!image_path) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd,
                 "ls '%s/chest_xray_224/val/Normal/' 2>/dev/null | grep -i '\\.jpe\\?g$' | head -n 1", data);
        FILE *p = popen(cmd, "r");
        char name[1024] = "";
        if (p) {
            if (fgets(name, sizeof name, p))
                name[strcspn(name, "\n")] = '\0';
            pclose(p);
        }
        if (name[0]) {
            snprintf(found, sizeof found, "%s/chest_xray_224/val/Normal/%s", data, name);
            image_path = found;
        }
    }
    pneumo_image *img = NULL;
    if (image_path) {
        if (read_file(image_path, &image, &image_size) != 0 ||
            pneumo_image_decode(image, image_size, image_path, NULL, &img) != PNEUMO_OK) {
            fprintf(stderr, PROG ": cannot read %s\n", image_path);
            free(image);
            pneumo_model_destroy(m);
            return 1;
        }
        if (image_size > 8 && image[0] == 0x89)
            ctype = "image/png";
    } else {
        void *png = NULL;
        if (pneumo_image_create(w, h, &img) != PNEUMO_OK) {
            pneumo_model_destroy(m);
            return 1;
        }
        uint8_t *px = pneumo_image_pixels_mut(img);
        for (int32_t y = 0; y < h; y++)
            for (int32_t x = 0; x < w; x++)
                px[(int64_t)y * w + x] = (uint8_t)((x * 3 + y * 5) ^ (x * y));
        if (pneumo_image_encode_png(img, &png, &image_size) != PNEUMO_OK) {
            pneumo_image_destroy(img);
            pneumo_model_destroy(m);
            return 1;
        }
        image = malloc(image_size);
        if (image)
            memcpy(image, png, image_size);
        pneumo_free(png);
        ctype = "image/png";
        printf("(no X-ray under %s: a synthetic %dx%d PNG is sent)\n", data, (int)w, (int)h);
    }

    printf("== serve: libpneumo %s, isa %s, model %dx%d (%s), %d threads (%ld online cores); "
           "the machine may be shared\n",
           pneumo_version(), pneumo_kernel_isa(), (int)w, (int)h,
           tmp_file[0] ? "article, random weights" : model_path, threads, online);
    printf("   request: %s, %zu bytes (%dx%d)%s; server options:", image_path ? image_path : "synthetic PNG",
           image_size, (int)pneumo_image_width(img), (int)pneumo_image_height(img),
           heatmap ? ", with ?heatmap=1" : "");
    printf(" --threads %d", threads);
    for (int i = 0; i < nextra; i++)
        printf(" %s", extra[i]);
    printf("\n");
    /* the library's figure is measured right before each level and after the
     * last; a level is compared with the mean of the measurements around it, so
     * a load change on a shared machine moves both */
    const double lib_s = quick ? 0.5 : 3.0;
    double lib[4], lib_cpu[4];
    server_proc sp;
    int port = 0, rc = 0;
    if (start_server(server, model_path, threads, extra, nextra, &sp, &port) != 0) {
        free(image);
        pneumo_image_destroy(img);
        pneumo_model_destroy(m);
        return 1;
    }
    static const int levels[] = {1, 4, 16};
    level_result res[3];
    printf("library: pneumo_model_predict on batches of 16, %d threads, the input preprocessed once\n"
           "server: every request decodes and preprocesses its upload; 'vs library' compares req/s with the\n"
           "library's img/s measured just before and just after the level (CPU: the same for CPU time)\n\n",
           threads);
    printf("%8s %10s %9s %9s %8s %10s %11s %10s %11s %9s %7s\n", "clients", "req/s", "p50 ms", "p99 ms",
           "p99/p50", "lib img/s", "vs library", "mean batch", "CPU ms/req", "CPU vs lib", "errors");
    lib[0] = batch_img_per_s(m, img, threads, lib_s, &lib_cpu[0]);
    for (int i = 0; i < 3; i++) {
        if (run_level(sp.pid, port, levels[i], quick ? 0.0 : 1.0, seconds, image, image_size, ctype,
                      heatmap ? "?heatmap=1" : "", &res[i]) != 0) {
            rc = 1;
            break;
        }
        lib[i + 1] = batch_img_per_s(m, img, threads, lib_s, &lib_cpu[i + 1]);
        double l = 0.5 * (lib[i] + lib[i + 1]), lc = 0.5 * (lib_cpu[i] + lib_cpu[i + 1]);
        res[i].lib = l;
        res[i].lib_cpu = lc;
        printf("%8d %10.1f %9.2f %9.2f %8.2f %10.1f %10.0f%% %10.2f %11.1f %8.0f%% %7ld\n", res[i].clients,
               res[i].rps, res[i].p50_ms, res[i].p99_ms, res[i].p99_ms / res[i].p50_ms, l,
               100.0 * res[i].rps / l, res[i].mean_batch, res[i].cpu_ms, 100.0 * lc / res[i].cpu_ms,
               res[i].errors);
        fflush(stdout);
        if (res[i].errors || res[i].requests == 0)
            rc = 1;
    }
    printf("library CPU per image: %.1f / %.1f / %.1f / %.1f ms (before each level, after the last)\n",
           lib_cpu[0], lib_cpu[1], lib_cpu[2], lib_cpu[3]);
    pneumo_image_destroy(img);
    pneumo_model_destroy(m);
    int src = stop_server(&sp);
    if (src != 0) {
        fprintf(stderr, PROG ": pneumo-serve exited with %d after SIGTERM\n", src);
        rc = 1;
    }
    if (rc == 0 && !heatmap) {
        const level_result *r16 = &res[2];
        printf("goal at 16 clients: >= 85%% of the library's batch img/s (%s: %.0f%%; CPU time %.0f%%), "
               "p99 <= 3x p50 (%s: %.2fx)\n",
               r16->rps >= 0.85 * r16->lib ? "met" : "NOT met", 100.0 * r16->rps / r16->lib,
               100.0 * r16->lib_cpu / r16->cpu_ms, r16->p99_ms <= 3.0 * r16->p50_ms ? "met" : "NOT met",
               r16->p99_ms / r16->p50_ms);
    }
    free(image);
    if (tmp_file[0]) {
        unlink(tmp_file);
        rmdir(tmp_model);
    }
    return rc;
}
