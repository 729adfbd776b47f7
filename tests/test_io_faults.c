/* I/O faults and crashes during a save. Through the internal hook
 * of lib/core/atomic_file.c, writes fail with ENOSPC or EIO at every point of a
 * model save, writes come back short, and fsync, close and rename fail: each
 * failure is an IO error naming the path, and the previous file stays
 * byte-identical with no temporary file left. Then a child saving two models
 * in turn is killed with SIGKILL at random moments, 200 times: the file is
 * always exactly one of the two models and loads, and a later save removes the
 * killed child's temporary file. */
#include "testutil.h"
#include "core/atomic_file.h"
#include "pneumo/image.h"
#include "pneumo/image_write.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pn_io_op op;   /* the operation to fail */
    long nth;      /* its nth call fails (1-based) */
    int err;       /* with this errno */
    size_t cap;    /* if > 0, every write moves at most cap bytes */
    long calls[4]; /* calls seen per operation */
} fault;

static int hook(pn_io_op op, size_t *len, void *user)
{
    fault *f = user;
    long n = ++f->calls[op];
    if (op == PN_IO_WRITE && f->cap > 0 && *len > f->cap)
        *len = f->cap;
    return op == f->op && n == f->nth ? f->err : 0;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *d;
    long n;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    d = malloc((size_t)n + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *size = (size_t)n;
    return d;
}

static int same_file(const char *path, const unsigned char *want, size_t want_size)
{
    size_t size = 0;
    unsigned char *d = slurp(path, &size);
    int same = d && size == want_size && memcmp(d, want, size) == 0;
    free(d);
    return same;
}

static int temp_files(const char *dir)
{
    int has_tmp = 0;
    tu_count_entries(dir, &has_tmp);
    return has_tmp;
}

typedef struct {
    char *dir, *path;
    pneumo_model *a, *b;
    pneumo_optimizer *opt;
    unsigned char *bytes_a, *bytes_b;
    size_t size_a, size_b;
} models;

static void make_models(models *m)
{
    char *ref;
    pneumo_adam_params ap;
    memset(m, 0, sizeof *m);
    m->dir = strdup(tu_tmpdir());
    assert_non_null(m->dir);
    m->path = tu_join(m->dir, "m.safetensors");
    assert_int_equal(pneumo_model_create_article(96, 1, &m->a), PNEUMO_OK);
    assert_int_equal(pneumo_model_create_article(96, 2, &m->b), PNEUMO_OK);
    pneumo_adam_default_params(&ap);
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &m->opt), PNEUMO_OK);
    ref = tu_join(m->dir, "b.ref");
    assert_int_equal(pneumo_model_save(m->b, NULL, ref), PNEUMO_OK);
    m->bytes_b = slurp(ref, &m->size_b);
    unlink(ref);
    free(ref);
    assert_int_equal(pneumo_model_save(m->a, NULL, m->path), PNEUMO_OK);
    m->bytes_a = slurp(m->path, &m->size_a);
    assert_true(m->size_a == m->size_b && memcmp(m->bytes_a, m->bytes_b, m->size_a) != 0);
}

static void free_models(models *m)
{
    unlink(m->path);
    rmdir(m->dir);
    pneumo_model_destroy(m->a);
    pneumo_model_destroy(m->b);
    pneumo_optimizer_destroy(m->opt);
    free(m->bytes_a);
    free(m->bytes_b);
    free(m->path);
    free(m->dir);
}

/* Save b over a with fault f; it must fail with IO naming strerror(err). */
static void expect_failed_save(models *m, fault *f, const char *what)
{
    pneumo_status st;
    pn_io_set_fault_hook(hook, f);
    st = pneumo_model_save(m->b, NULL, m->path);
    pn_io_set_fault_hook(NULL, NULL);
    if (st != PNEUMO_ERR_IO)
        fail_msg("%s: status %d (%s)", what, st, pneumo_last_error());
    if (!strstr(pneumo_last_error(), m->path) || !strstr(pneumo_last_error(), strerror(f->err)))
        fail_msg("%s: message \"%s\" names neither the path nor the error", what, pneumo_last_error());
    if (!same_file(m->path, m->bytes_a, m->size_a))
        fail_msg("%s: the previous file changed", what);
    if (temp_files(m->dir))
        fail_msg("%s: a temporary file is left", what);
}

static void test_save_faults(void **state)
{
    models m;
    fault count = {PN_IO_WRITE, 0, 0, 0, {0}};
    static const int errs[2] = {ENOSPC, EIO};
    long writes;
    int cases = 0;
    (void)state;
    make_models(&m);
    /* how many writes a save makes */
    pn_io_set_fault_hook(hook, &count);
    assert_int_equal(pneumo_model_save(m.a, NULL, m.path), PNEUMO_OK);
    pn_io_set_fault_hook(NULL, NULL);
    writes = count.calls[PN_IO_WRITE];
    assert_true(writes >= 1);
    assert_true(same_file(m.path, m.bytes_a, m.size_a));
    for (long k = 1; k <= writes; k++)
        for (int e = 0; e < 2; e++) {
            fault f = {PN_IO_WRITE, k, errs[e], 0, {0}};
            char what[64];
            snprintf(what, sizeof what, "write %ld of %ld fails with %s", k, writes, e ? "EIO" : "ENOSPC");
            expect_failed_save(&m, &f, what);
            cases++;
        }
    {
        /* short writes that then run out of space */
        fault f = {PN_IO_WRITE, 5, ENOSPC, 1000, {0}};
        expect_failed_save(&m, &f, "short writes then ENOSPC");
        fault g = {PN_IO_FSYNC, 1, EIO, 0, {0}};
        expect_failed_save(&m, &g, "fsync fails with EIO");
        fault h = {PN_IO_CLOSE, 1, EIO, 0, {0}};
        expect_failed_save(&m, &h, "close fails with EIO");
        fault r = {PN_IO_RENAME, 1, EXDEV, 0, {0}};
        expect_failed_save(&m, &r, "rename fails with EXDEV");
        cases += 4;
    }
    /* short writes alone are retried: the save succeeds with the right bytes */
    {
        static const size_t caps[3] = {1, 7, 4093};
        for (int i = 0; i < 3; i++) {
            fault f = {PN_IO_WRITE, 0, 0, caps[i], {0}};
            pn_io_set_fault_hook(hook, &f);
            assert_int_equal(pneumo_model_save(i % 2 ? m.a : m.b, NULL, m.path), PNEUMO_OK);
            pn_io_set_fault_hook(NULL, NULL);
            assert_true(f.calls[PN_IO_WRITE] >= (long)(m.size_a / caps[i]));
            assert_true(same_file(m.path, i % 2 ? m.bytes_a : m.bytes_b, m.size_a));
            cases++;
        }
        assert_int_equal(pneumo_model_save(m.a, NULL, m.path), PNEUMO_OK);
    }
    /* the other atomic writers share the code: a PNG */
    {
        char *png = tu_join(m.dir, "x.png");
        pneumo_image *img = NULL;
        unsigned char *before;
        size_t before_size;
        fault f = {PN_IO_WRITE, 1, ENOSPC, 0, {0}};
        assert_int_equal(pneumo_image_create(8, 8, &img), PNEUMO_OK);
        assert_int_equal(pneumo_image_save_png(img, png), PNEUMO_OK);
        before = slurp(png, &before_size);
        pneumo_image_pixels_mut(img)[3] = 200;
        pn_io_set_fault_hook(hook, &f);
        assert_int_equal(pneumo_image_save_png(img, png), PNEUMO_ERR_IO);
        pn_io_set_fault_hook(NULL, NULL);
        assert_true(same_file(png, before, before_size));
        assert_false(temp_files(m.dir));
        unlink(png);
        free(png);
        free(before);
        pneumo_image_destroy(img);
        cases++;
    }
    printf("  %d fault cases over a save of %ld writes: the previous file stayed intact\n", cases, writes);
    free_models(&m);
}

static void test_sigkill_during_saves(void **state)
{
    models m;
    int olds = 0, news = 0, leftovers = 0;
    uint64_t rng = 99;
    (void)state;
    make_models(&m);
    for (int kill_no = 0; kill_no < 200; kill_no++) {
        pid_t pid;
        int wst;
        struct timespec pause;
        pneumo_model *loaded = NULL;
        fflush(stdout);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (long i = 0;; i++)
                if (pneumo_model_save(i % 2 ? m.a : m.b, NULL, m.path) != PNEUMO_OK)
                    _exit(3);
        }
        pause.tv_sec = 0;
        pause.tv_nsec = (long)(tu_next(&rng) % 30000000u); /* 0-30 ms */
        nanosleep(&pause, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        if (!WIFSIGNALED(wst))
            fail_msg("kill %d: the saving child ended by itself (status %d)", kill_no, wst);
        if (same_file(m.path, m.bytes_a, m.size_a))
            olds++;
        else if (same_file(m.path, m.bytes_b, m.size_b))
            news++;
        else
            fail_msg("kill %d: the file is neither model", kill_no);
        if (pneumo_model_load(m.path, &loaded, NULL) != PNEUMO_OK)
            fail_msg("kill %d: %s", kill_no, pneumo_last_error());
        pneumo_model_destroy(loaded);
        leftovers += temp_files(m.dir);
        /* a later save succeeds and sweeps the killed child's temporary file */
        assert_int_equal(pneumo_model_save(m.a, NULL, m.path), PNEUMO_OK);
        assert_false(temp_files(m.dir));
    }
    printf("  200 kills: %d times model A, %d times model B, %d temporary files left by a kill "
           "(all removed by the next save)\n",
           olds, news, leftovers);
    assert_int_equal(olds + news, 200);
    free_models(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_faults),
        cmocka_unit_test(test_sigkill_during_saves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
