/* Datasets: options, directory listing with flow_from_directory's rules, the
 * file-list constructor, validation results (skip policy), labels, class
 * weights, the "Found N images" report and accessors. The threaded part
 * (validation decoding, cache, epochs and batches) is in loader.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/threadpool.h"
#include "data/dataset_internal.h"
#include "image/image_internal.h"

/* ------------------------------------------------------------------------ */
/* Small growable containers (used only while opening).                      */

/* Packed NUL-terminated strings (names, paths), each addressed by its offset. */
typedef struct pn_strpool {
    char *p;
    size_t len, cap;
} pn_strpool;

typedef struct pn_offs {
    size_t *v;
    size_t len, cap;
} pn_offs;

/* Append s[0..n) and a NUL; *off receives where it starts. */
static int pool_add(pn_strpool *b, const char *s, size_t n, size_t *off)
{
    if (n > SIZE_MAX - b->len - 1 || !pn_array_reserve(&b->p, &b->cap, b->len + n + 1, 1, SIZE_MAX))
        return 0;
    memcpy(b->p + b->len, s, n);
    b->p[b->len + n] = '\0';
    *off = b->len;
    b->len += n + 1;
    return 1;
}

static int offs_push(pn_offs *o, size_t v)
{
    if (!pn_array_reserve(&o->v, &o->cap, o->len + 1, sizeof *o->v, SIZE_MAX))
        return 0;
    o->v[o->len++] = v;
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sort the strings of `pool` at `offs` with strcmp; the offsets are rewritten
 * in sorted order. */
static int sort_offsets(pn_strpool *pool, pn_offs *offs)
{
    char **ptr;
    if (offs->len < 2)
        return 1;
    ptr = pn_malloc(offs->len * sizeof *ptr);
    if (!ptr)
        return 0;
    for (size_t i = 0; i < offs->len; i++)
        ptr[i] = pool->p + offs->v[i];
    qsort(ptr, offs->len, sizeof *ptr, cmp_str);
    for (size_t i = 0; i < offs->len; i++)
        offs->v[i] = (size_t)(ptr[i] - pool->p);
    free(ptr);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Options.                                                                  */

void pneumo_dataset_default_options(pneumo_dataset_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->width = 500;
    o->height = 500;
    o->resample = PNEUMO_RESAMPLE_NEAREST;
    o->shuffle = 1;
    o->seed = 0;
    o->augment = 0;
    o->strict = 0;
    o->threads = 0;
    o->cache_bytes = (int64_t)2 << 30;
    o->prefetch_batches = 2;
}

/* The options with their nested structs copied (NULL ones replaced by the defaults). */
typedef struct pn_ds_settings {
    pneumo_dataset_options opt;
    pneumo_augment_options augment;
    pneumo_decode_limits limits;
} pn_ds_settings;

static pneumo_status resolve_options(const pneumo_dataset_options *in, const char *what, pn_ds_settings *s)
{
    pneumo_dataset_options *o = &s->opt;
    pneumo_status st;
    if (in) {
        if ((st = PN_CHECK_STRUCT(what, pneumo_dataset_options, in)) != PNEUMO_OK)
            return st;
        *o = *in;
    } else {
        pneumo_dataset_default_options(o);
    }
    if (o->width < 1 || o->width > PN_DS_MAX_SIDE || o->height < 1 || o->height > PN_DS_MAX_SIDE)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: target size %dx%d out of range (width and height must be 1..%d)", what,
                        (int)o->width, (int)o->height, PN_DS_MAX_SIDE);
    if (o->resample != PNEUMO_RESAMPLE_NEAREST && o->resample != PNEUMO_RESAMPLE_BILINEAR)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: options.resample %d is not a pneumo_resample", what,
                        (int)o->resample);
    if ((o->shuffle != 0 && o->shuffle != 1) || (o->augment != 0 && o->augment != 1) ||
        (o->strict != 0 && o->strict != 1))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: options.shuffle, augment and strict must be 0 or 1 (got %d, %d, %d)", what,
                        (int)o->shuffle, (int)o->augment, (int)o->strict);
    if (o->threads < 0 || o->threads > PN_DS_MAX_THREADS)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: options.threads %d out of range (0 = online cores, up to %d)", what,
                        (int)o->threads, PN_DS_MAX_THREADS);
    if (o->cache_bytes < 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: options.cache_bytes is negative (%lld)", what,
                        (long long)o->cache_bytes);
    if (o->prefetch_batches < 0 || o->prefetch_batches > PN_DS_MAX_PREFETCH)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: options.prefetch_batches %d out of range (0..%d)", what,
                        (int)o->prefetch_batches, PN_DS_MAX_PREFETCH);
    if (o->augment_options) {
        if (pneumo_augment_validate_options(o->augment_options) != PNEUMO_OK)
            return pn_error_prefix("%s: options.augment_options", what);
        s->augment = *o->augment_options;
    } else {
        pneumo_augment_default_options(&s->augment);
    }
    if (pn_decode_limits_resolve(o->limits, &s->limits) != PNEUMO_OK)
        return pn_error_prefix("%s: options.limits", what);
    o->augment_options = NULL;
    o->limits = NULL;
    if (o->threads == 0)
        o->threads = pn_online_cores();
    return PNEUMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Creation and destruction.                                                 */

static pneumo_dataset *ds_new(const pn_ds_settings *s)
{
    pneumo_dataset *ds = pn_calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    ds->opt = s->opt;
    ds->augment = s->augment;
    ds->limits = s->limits;
    ds->opt.augment_options = &ds->augment;
    ds->opt.limits = &ds->limits;
    ds->img_px = (size_t)s->opt.width * (size_t)s->opt.height;
    return ds;
}

void pneumo_dataset_destroy(pneumo_dataset *ds)
{
    if (!ds)
        return;
    pn_ds_stop(ds);
    if (ds->v_msg) {
        for (int64_t i = 0; i < ds->n; i++)
            free(ds->v_msg[i]);
        free(ds->v_msg);
    }
    free(ds->v_status);
    for (int64_t i = 0; i < ds->nskipped; i++)
        free(ds->skipped[i]);
    free(ds->skipped);
    free(ds->class_names);
    free(ds->name_pool);
    free(ds->class_counts);
    free(ds->paths);
    free(ds->path_pool);
    free(ds->labels);
    free(ds->cache);
    free(ds);
}

/* Give the candidates' pointers their final values once the pools are complete. */
static pneumo_status ds_set_candidates(pneumo_dataset *ds, pn_strpool *paths, const pn_offs *poffs,
                                       int32_t *labels, pn_strpool *names, const pn_offs *noffs,
                                       const char *what)
{
    int64_t n = (int64_t)poffs->len;
    int32_t k = (int32_t)noffs->len;
    ds->path_pool = paths->p;
    paths->p = NULL;
    ds->name_pool = names->p;
    names->p = NULL;
    ds->labels = labels;
    ds->n = n;
    ds->num_classes = k;
    ds->paths = pn_malloc((size_t)n * sizeof *ds->paths);
    ds->cache = pn_calloc((size_t)n, sizeof *ds->cache);
    ds->class_names = pn_malloc((size_t)k * sizeof *ds->class_names);
    ds->class_counts = pn_calloc((size_t)k, sizeof *ds->class_counts);
    ds->v_status = pn_calloc((size_t)n, sizeof *ds->v_status);
    ds->v_msg = pn_calloc((size_t)n, sizeof *ds->v_msg);
    if (!ds->paths || !ds->cache || !ds->class_names || !ds->class_counts || !ds->v_status || !ds->v_msg)
        return pn_error_nomem(what, (size_t)n * (sizeof(char *) * 3 + sizeof(pneumo_status)));
    for (int64_t i = 0; i < n; i++)
        ds->paths[i] = ds->path_pool + poffs->v[i];
    for (int32_t c = 0; c < k; c++)
        ds->class_names[c] = ds->name_pool + noffs->v[c];
    return PNEUMO_OK;
}

/* After validation: apply the skip policy and keep the usable images. */
static pneumo_status ds_finish_validation(pneumo_dataset *ds)
{
    int64_t bad = 0, j = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        pneumo_status st = ds->v_status[i];
        if (st == PNEUMO_OK)
            continue;
        if (st != PNEUMO_ERR_IO && st != PNEUMO_ERR_FORMAT && st != PNEUMO_ERR_UNSUPPORTED &&
            st != PNEUMO_ERR_LIMIT)
            return pn_error(st, "%s", ds->v_msg[i] ? ds->v_msg[i] : ds->paths[i]);
        bad++;
    }
    if (bad && ds->opt.strict) {
        for (int64_t i = 0; i < ds->n; i++)
            if (ds->v_status[i] != PNEUMO_OK)
                return pn_error(ds->v_status[i], "%s (strict mode)",
                                ds->v_msg[i] ? ds->v_msg[i] : ds->paths[i]);
    }
    if (bad) {
        ds->skipped = pn_malloc((size_t)bad * sizeof *ds->skipped);
        if (!ds->skipped)
            return pn_error_nomem("dataset skipped-file list", (size_t)bad * sizeof(char *));
    }
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->v_status[i] != PNEUMO_OK) {
            ds->skipped[ds->nskipped++] = ds->v_msg[i];
            ds->v_msg[i] = NULL;
            continue;
        }
        ds->paths[j] = ds->paths[i];
        ds->labels[j] = ds->labels[i];
        ds->cache[j] = ds->cache[i];
        ds->class_counts[ds->labels[j]]++;
        j++;
    }
    free(ds->v_msg);
    ds->v_msg = NULL;
    free(ds->v_status);
    ds->v_status = NULL;
    ds->n = j;
    return PNEUMO_OK;
}

/* The part of opening shared by both constructors, after the candidates are set. */
static pneumo_status ds_open_common(pneumo_dataset *ds, const char *what)
{
    pneumo_status st = pn_ds_start(ds);
    if (st != PNEUMO_OK)
        return st;
    st = pn_ds_validate(ds);
    if (st != PNEUMO_OK)
        return st;
    st = ds_finish_validation(ds);
    if (st != PNEUMO_OK)
        return st;
    if (ds->n == 0)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: no usable image: all %lld files could not be read (first: %s)", what,
                        (long long)ds->nskipped, ds->nskipped ? ds->skipped[0] : "none");
    return pn_ds_prepare_epochs(ds);
}

/* ------------------------------------------------------------------------ */
/* Directory listing.                                                        */

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static int ends_with_ci(const char *name, size_t len, const char *ext)
{
    size_t el = strlen(ext);
    if (len <= el)
        return 0;
    for (size_t i = 0; i < el; i++)
        if (ascii_lower((unsigned char)name[len - el + i]) != ext[i])
            return 0;
    return 1;
}

static int is_image_name(const char *name)
{
    size_t len = strlen(name);
    return ends_with_ci(name, len, ".jpg") || ends_with_ci(name, len, ".jpeg") ||
           ends_with_ci(name, len, ".png") || ends_with_ci(name, len, ".dcm");
}

/* "a" + "/" + "b" into a malloc'ed string (no doubled slash). */
static char *join_path(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    char *p = pn_malloc(la + (size_t)slash + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    if (slash)
        p[la] = '/';
    memcpy(p + la + (size_t)slash, b, lb + 1);
    return p;
}

/* Why stat() of `path` failed, as a clear IO error. */
static pneumo_status stat_error(const char *path, int e, const char *kind)
{
    struct stat lst;
    if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
        return pn_error(PNEUMO_ERR_IO, "%s: dangling symbolic link (its target does not exist)", path);
    if (e == ELOOP)
        return pn_error(PNEUMO_ERR_IO, "%s: symbolic link loop (too many levels of symbolic links)", path);
    if (e == ENOENT)
        return pn_error(PNEUMO_ERR_IO, "%s: no such %s", path, kind);
    if (e == ENOTDIR)
        return pn_error(PNEUMO_ERR_IO, "%s: a component of the path is not a directory", path);
    return pn_error(PNEUMO_ERR_IO, "%s: cannot access: %s", path, strerror(e));
}

/* 1 if the resolved class folder `cls` is the resolved dataset folder `root`
 * or one of its ancestors. */
static int is_self_or_ancestor(const char *cls, const char *root)
{
    size_t lc = strlen(cls);
    if (strcmp(cls, "/") == 0)
        return 1;
    return strncmp(cls, root, lc) == 0 && (root[lc] == '\0' || root[lc] == '/');
}

typedef struct pn_listing {
    pn_strpool names; /* class names */
    pn_offs noffs;
    pn_strpool paths; /* image paths */
    pn_offs poffs;
    int32_t *labels;
    size_t labels_cap;
} pn_listing;

static void listing_free(pn_listing *l)
{
    free(l->names.p);
    free(l->noffs.v);
    free(l->paths.p);
    free(l->poffs.v);
    free(l->labels);
}

static int listing_push_label(pn_listing *l, int32_t label)
{
    size_t n = l->poffs.len; /* label of the path just added */
    if (!pn_array_reserve(&l->labels, &l->labels_cap, n, sizeof *l->labels, SIZE_MAX))
        return 0;
    l->labels[n - 1] = label;
    return 1;
}

/* Collect the non-hidden entries of directory `path` into `pool`/`offs`,
 * sorted with strcmp: with `classes`, the sub-folders (symbolic links
 * followed; a link loop is an error, a dangling link is ignored); otherwise the
 * names with an image extension that are not folders. */
static pneumo_status read_dir(const char *path, const char *kind, int classes, pn_strpool *pool,
                              pn_offs *offs)
{
    DIR *d = opendir(path);
    struct dirent *de;
    pneumo_status st = PNEUMO_OK;
    if (!d)
        return pn_error(PNEUMO_ERR_IO, "%s: cannot open %s: %s", path, kind, strerror(errno));
    for (;;) {
        struct stat sb;
        size_t off;
        int r;
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                st = pn_error(PNEUMO_ERR_IO, "%s: cannot read %s: %s", path, kind, strerror(errno));
            break;
        }
        if (de->d_name[0] == '.')
            continue; /* hidden, "." and ".." */
        if (!classes && !is_image_name(de->d_name))
            continue;
        r = fstatat(dirfd(d), de->d_name, &sb, 0); /* follows symbolic links */
        if (classes) {
            if (r != 0) {
                if (errno == ELOOP) {
                    char *full = join_path(path, de->d_name);
                    st = full ? stat_error(full, ELOOP, "directory")
                              : pn_error_nomem("dataset path", strlen(path));
                    free(full);
                    break;
                }
                continue; /* dangling link or vanished entry: not a class folder */
            }
            if (!S_ISDIR(sb.st_mode))
                continue;
        } else if (r == 0 && S_ISDIR(sb.st_mode)) {
            continue; /* sub-folders of a class folder are not searched */
        }
        /* Images that cannot be stat'ed (dangling links) stay: validation
         * reports them as skipped files with the reason. */
        if (!pool_add(pool, de->d_name, strlen(de->d_name), &off) || !offs_push(offs, off)) {
            st = pn_error_nomem("dataset listing", pool->len);
            break;
        }
    }
    closedir(d);
    if (st == PNEUMO_OK && !sort_offsets(pool, offs))
        st = pn_error_nomem("dataset listing", offs->len * sizeof(char *));
    return st;
}

static pneumo_status list_directory(const char *dir, pn_listing *l)
{
    struct stat sb;
    pneumo_status st;
    char *root_real;

    if (stat(dir, &sb) != 0)
        return stat_error(dir, errno, "directory");
    if (!S_ISDIR(sb.st_mode))
        return pn_error(PNEUMO_ERR_IO,
                        "%s: not a directory (expected a folder with one "
                        "sub-folder per class)",
                        dir);
    st = read_dir(dir, "directory", 1, &l->names, &l->noffs);
    if (st != PNEUMO_OK)
        return st;
    if (l->noffs.len == 0)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: no class sub-folders (expected one folder per class, e.g. "
                        "Normal/ and Opacity/)",
                        dir);
    if (l->noffs.len == 1)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: only one class folder ('%s'); needs at least 2 classes", dir,
                        l->names.p + l->noffs.v[0]);
    if (l->noffs.len > INT32_MAX / 2)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: too many class folders", dir);

    root_real = realpath(dir, NULL);
    if (!root_real)
        return pn_error(PNEUMO_ERR_IO, "%s: cannot resolve the path: %s", dir, strerror(errno));
    for (size_t c = 0; c < l->noffs.len && st == PNEUMO_OK; c++) {
        const char *cname = l->names.p + l->noffs.v[c];
        char *cdir = join_path(dir, cname), *creal;
        pn_strpool files = {0};
        pn_offs foffs = {0};
        if (!cdir) {
            st = pn_error_nomem("dataset path", strlen(dir));
            break;
        }
        creal = realpath(cdir, NULL);
        if (!creal) {
            st = pn_error(PNEUMO_ERR_IO, "%s: cannot resolve the path: %s", cdir, strerror(errno));
        } else if (is_self_or_ancestor(creal, root_real)) {
            st = pn_error(PNEUMO_ERR_IO,
                          "%s: symbolic link loop: the class folder resolves to %s, the "
                          "dataset folder itself or one of its parents",
                          cdir, creal);
        } else {
            st = read_dir(cdir, "class folder", 0, &files, &foffs);
        }
        if (st == PNEUMO_OK && foffs.len == 0)
            st = pn_error(PNEUMO_ERR_FORMAT,
                          "%s: class folder without images (.jpg, .jpeg, .png or .dcm files)", cdir);
        for (size_t i = 0; st == PNEUMO_OK && i < foffs.len; i++) {
            char *full = join_path(cdir, files.p + foffs.v[i]);
            size_t off;
            if (!full || !pool_add(&l->paths, full, strlen(full), &off) || !offs_push(&l->poffs, off) ||
                !listing_push_label(l, (int32_t)c))
                st = pn_error_nomem("dataset listing", l->paths.len);
            free(full);
        }
        if (st == PNEUMO_OK && (int64_t)l->poffs.len > PN_DS_MAX_IMAGES)
            st = pn_error(PNEUMO_ERR_LIMIT, "%s: more than %lld images", dir, (long long)PN_DS_MAX_IMAGES);
        free(files.p);
        free(foffs.v);
        free(creal);
        free(cdir);
    }
    free(root_real);
    return st;
}

void pn_ds_dirlist_free(pn_ds_dirlist *l)
{
    if (!l)
        return;
    free(l->class_names);
    free(l->paths);
    free(l->labels);
    free(l->name_pool);
    free(l->path_pool);
    memset(l, 0, sizeof *l);
}

pneumo_status pn_ds_list_dir(const char *dir, pn_ds_dirlist *out)
{
    pn_listing l = {0};
    pneumo_status st;
    memset(out, 0, sizeof *out);
    st = list_directory(dir, &l);
    if (st != PNEUMO_OK) {
        listing_free(&l);
        return st;
    }
    out->num_classes = (int32_t)l.noffs.len;
    out->n = (int64_t)l.poffs.len;
    out->class_names = pn_malloc(l.noffs.len * sizeof *out->class_names);
    out->paths = pn_malloc(l.poffs.len * sizeof *out->paths);
    out->labels = l.labels;
    out->name_pool = l.names.p;
    out->path_pool = l.paths.p;
    l.labels = NULL;
    l.names.p = NULL;
    l.paths.p = NULL;
    if (!out->class_names || !out->paths) {
        st = pn_error_nomem(dir, l.poffs.len * sizeof(char *));
        listing_free(&l);
        pn_ds_dirlist_free(out);
        return st;
    }
    for (size_t c = 0; c < l.noffs.len; c++)
        out->class_names[c] = out->name_pool + l.noffs.v[c];
    for (size_t i = 0; i < l.poffs.len; i++)
        out->paths[i] = out->path_pool + l.poffs.v[i];
    listing_free(&l);
    return PNEUMO_OK;
}

pneumo_status pneumo_dataset_open_dir(const char *dir, const pneumo_dataset_options *o, pneumo_dataset **out)
{
    pn_ds_settings set;
    pneumo_dataset *ds;
    pn_listing l = {0};
    pneumo_status st;

    if (out)
        *out = NULL;
    if (!dir || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_dataset_open_dir: %s is NULL", !dir ? "dir" : "out");
    if (!*dir)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_dataset_open_dir: dir is empty");
    st = resolve_options(o, dir, &set);
    if (st != PNEUMO_OK)
        return st;
    st = list_directory(dir, &l);
    if (st != PNEUMO_OK) {
        listing_free(&l);
        return st;
    }
    ds = ds_new(&set);
    if (!ds) {
        listing_free(&l);
        return pn_error_nomem("pneumo_dataset", sizeof *ds);
    }
    st = ds_set_candidates(ds, &l.paths, &l.poffs, l.labels, &l.names, &l.noffs, dir);
    l.labels = NULL;
    listing_free(&l);
    if (st == PNEUMO_OK)
        st = ds_open_common(ds, dir);
    if (st == PNEUMO_OK) {
        for (int32_t c = 0; c < ds->num_classes; c++) {
            if (ds->class_counts[c] == 0) {
                st = pn_error(PNEUMO_ERR_FORMAT,
                              "%s/%s: class folder without a usable image (all skipped as "
                              "unreadable)",
                              dir, ds->class_names[c]);
                break;
            }
        }
    }
    if (st != PNEUMO_OK) {
        pneumo_dataset_destroy(ds);
        return st;
    }
    *out = ds;
    return PNEUMO_OK;
}

pneumo_status pneumo_dataset_open_files(const char *const *paths, const int32_t *labels, int64_t count,
                                        int32_t num_classes, const char *const *class_names,
                                        const pneumo_dataset_options *o, pneumo_dataset **out)
{
    static const char *what = "pneumo_dataset_open_files";
    pn_ds_settings set;
    pneumo_dataset *ds;
    pn_listing l = {0};
    pneumo_status st = PNEUMO_OK;

    if (out)
        *out = NULL;
    if (!paths || !labels || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", what,
                        !paths    ? "paths"
                        : !labels ? "labels"
                                  : "out");
    if (count < 1 || count > PN_DS_MAX_IMAGES)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: count %lld out of range (1..%lld)", what,
                        (long long)count, (long long)PN_DS_MAX_IMAGES);
    if (num_classes < 1 || num_classes > INT32_MAX / 2)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: num_classes %d must be at least 1", what,
                        (int)num_classes);
    st = resolve_options(o, what, &set);
    if (st != PNEUMO_OK)
        return st;
    for (int32_t c = 0; c < num_classes && st == PNEUMO_OK; c++) {
        char buf[16];
        const char *name = buf;
        size_t off;
        if (class_names) {
            name = class_names[c];
            if (!name) {
                st = pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class_names[%d] is NULL", what, (int)c);
                break;
            }
        } else {
            snprintf(buf, sizeof buf, "%d", (int)c);
        }
        if (!pool_add(&l.names, name, strlen(name), &off) || !offs_push(&l.noffs, off))
            st = pn_error_nomem(what, l.names.len);
    }
    for (int64_t i = 0; i < count && st == PNEUMO_OK; i++) {
        size_t off;
        if (!paths[i] || !*paths[i]) {
            st = pn_error(PNEUMO_ERR_INVALID_ARG, "%s: paths[%lld] is %s", what, (long long)i,
                          paths[i] ? "empty" : "NULL");
        } else if (labels[i] < 0 || labels[i] >= num_classes) {
            st = pn_error(PNEUMO_ERR_INVALID_ARG, "%s: labels[%lld] = %d is outside 0..%d (%s)", what,
                          (long long)i, (int)labels[i], (int)num_classes - 1, paths[i]);
        } else if (!pool_add(&l.paths, paths[i], strlen(paths[i]), &off) || !offs_push(&l.poffs, off) ||
                   !listing_push_label(&l, labels[i])) {
            st = pn_error_nomem(what, l.paths.len);
        }
    }
    if (st != PNEUMO_OK) {
        listing_free(&l);
        return st;
    }
    ds = ds_new(&set);
    if (!ds) {
        listing_free(&l);
        return pn_error_nomem(what, sizeof *ds);
    }
    st = ds_set_candidates(ds, &l.paths, &l.poffs, l.labels, &l.names, &l.noffs, what);
    l.labels = NULL;
    listing_free(&l);
    if (st == PNEUMO_OK)
        st = ds_open_common(ds, what);
    if (st != PNEUMO_OK) {
        pneumo_dataset_destroy(ds);
        return st;
    }
    *out = ds;
    return PNEUMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Accessors, class weights, report.                                         */

int64_t pneumo_dataset_size(const pneumo_dataset *ds) { return ds ? ds->n : 0; }

int32_t pneumo_dataset_num_classes(const pneumo_dataset *ds) { return ds ? ds->num_classes : 0; }

pneumo_status pneumo_dataset_class_name(const pneumo_dataset *ds, int32_t cls, char *buf, size_t size,
                                        size_t *needed)
{
    static const char *fn = "pneumo_dataset_class_name";
    if (!ds)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: ds is NULL", fn);
    if (cls < 0 || cls >= ds->num_classes)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class %d outside 0..%d", fn, (int)cls,
                        (int)ds->num_classes - 1);
    return pn_string_out(fn, ds->class_names[cls], "", buf, size, needed);
}

int64_t pneumo_dataset_class_count(const pneumo_dataset *ds, int32_t cls)
{
    if (!ds || cls < 0 || cls >= ds->num_classes)
        return -1;
    return ds->class_counts[cls];
}

pneumo_status pn_ds_class_weights(const int64_t *counts, int32_t k, double *w)
{
    int64_t n = 0;
    if (!counts || !w || k < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "class weights: NULL counts/weights or k < 1");
    for (int32_t c = 0; c < k; c++) {
        if (counts[c] <= 0)
            return pn_error(PNEUMO_ERR_STATE,
                            "class weights: class %d has no images, its balanced weight would "
                            "be infinite",
                            (int)c);
        n += counts[c];
    }
    /* sklearn: len(y) / (n_classes * np.bincount(y).astype(np.float64)) */
    for (int32_t c = 0; c < k; c++)
        w[c] = (double)n / ((double)k * (double)counts[c]);
    return PNEUMO_OK;
}

pneumo_status pneumo_dataset_class_weights(const pneumo_dataset *ds, double *weights, int32_t num_classes)
{
    if (!ds || !weights)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_dataset_class_weights: %s is NULL",
                        !ds ? "ds" : "weights");
    if (num_classes != ds->num_classes)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "pneumo_dataset_class_weights: num_classes %d does not match the "
                        "dataset's %d classes",
                        (int)num_classes, (int)ds->num_classes);
    for (int32_t c = 0; c < ds->num_classes; c++)
        if (ds->class_counts[c] == 0)
            return pn_error(PNEUMO_ERR_STATE,
                            "pneumo_dataset_class_weights: class %d ('%s') has no images, its "
                            "balanced weight would be infinite",
                            (int)c, ds->class_names[c]);
    return pn_ds_class_weights(ds->class_counts, ds->num_classes, weights);
}

pneumo_status pneumo_dataset_path(const pneumo_dataset *ds, int64_t index, char *buf, size_t size,
                                  size_t *needed)
{
    static const char *fn = "pneumo_dataset_path";
    if (!ds)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: ds is NULL", fn);
    if (index < 0 || index >= ds->n)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: index %lld outside 0..%lld", fn, (long long)index,
                        (long long)ds->n - 1);
    return pn_string_out(fn, ds->paths[index], "", buf, size, needed);
}

int32_t pneumo_dataset_label(const pneumo_dataset *ds, int64_t index)
{
    if (!ds || index < 0 || index >= ds->n)
        return -1;
    return ds->labels[index];
}

int64_t pneumo_dataset_num_skipped(const pneumo_dataset *ds) { return ds ? ds->nskipped : 0; }

pneumo_status pneumo_dataset_skipped(const pneumo_dataset *ds, int64_t i, char *buf, size_t size,
                                     size_t *needed)
{
    static const char *fn = "pneumo_dataset_skipped";
    if (!ds)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: ds is NULL", fn);
    if (i < 0 || i >= ds->nskipped)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: index %lld outside the %lld skipped files", fn,
                        (long long)i, (long long)ds->nskipped);
    return pn_string_out(fn, ds->skipped[i], "", buf, size, needed);
}

pneumo_status pneumo_dataset_report(const pneumo_dataset *ds, char *buf, size_t size, size_t *needed)
{
    char line[256];
    int len;
    if (!ds || (!buf && size > 0))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_dataset_report: %s is NULL", !ds ? "ds" : "buf");
    if (ds->nskipped > 0)
        len = snprintf(line, sizeof line,
                       "Found %lld images belonging to %d classes.\nSkipped %lld unreadable "
                       "image file%s.",
                       (long long)ds->n, (int)ds->num_classes, (long long)ds->nskipped,
                       ds->nskipped == 1 ? "" : "s");
    else
        len = snprintf(line, sizeof line, "Found %lld images belonging to %d classes.", (long long)ds->n,
                       (int)ds->num_classes);
    if (len < 0)
        return pn_error(PNEUMO_ERR_STATE, "pneumo_dataset_report: formatting failed");
    if (needed)
        *needed = (size_t)len;
    if (size > 0) {
        size_t c = (size_t)len < size - 1 ? (size_t)len : size - 1;
        memcpy(buf, line, c);
        buf[c] = '\0';
    }
    return PNEUMO_OK;
}

int64_t pneumo_dataset_num_batches(const pneumo_dataset *ds, int32_t batch_size)
{
    if (!ds || batch_size < 1)
        return 0;
    return (ds->n + batch_size - 1) / batch_size;
}
