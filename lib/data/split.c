/* Patient keys of the chest X-ray file names and the stratified, grouped
 * train/validation split of a class-folder dataset. The listing is the one of
 * pneumo_dataset_open_dir() (dataset.c); both sides are opened with
 * pneumo_dataset_open_files() so they behave like any other dataset. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/dataset_internal.h"

void pneumo_split_default_options(pneumo_split_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->group = PNEUMO_SPLIT_GROUP_PATIENT;
    o->val_fraction = 0.2;
    o->seed = 0;
}

/* ------------------------------------------------------------------------ */
/* Patient keys.                                                             */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Digits at s[*i..len); advances *i; 1 if there was at least one. */
static int skip_digits(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && is_digit(s[*i]))
        (*i)++;
    return *i > start;
}

static int has_prefix(const char *s, size_t len, size_t at, const char *p)
{
    size_t pl = strlen(p);
    return len - at >= pl && memcmp(s + at, p, pl) == 0;
}

/* Length of the stem of `name` (without an image extension, any case). */
static size_t stem_length(const char *name, size_t len)
{
    static const char *const ext[] = {".jpeg", ".jpg", ".png", ".dcm"};
    for (size_t e = 0; e < sizeof ext / sizeof ext[0]; e++) {
        size_t el = strlen(ext[e]), k;
        if (len <= el)
            continue;
        for (k = 0; k < el; k++) {
            char c = name[len - el + k];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + ('a' - 'A'));
            if (c != ext[e][k])
                break;
        }
        if (k == el)
            return len - el;
    }
    return len;
}

/* Length of the patient key at the start of `name`: the key of
 * "personN_bacteria_M[_M...]" / "personN_virus_M[_M...]" is "personN", the
 * key of "[NORMAL2-]IM-X-Y[-Y...]" is "[NORMAL2-]IM-X"; 0 for other names. */
static size_t patient_prefix(const char *name, size_t stem)
{
    size_t i = 0, key;
    if (has_prefix(name, stem, 0, "person")) {
        i = 6;
        if (!skip_digits(name, stem, &i))
            return 0;
        key = i;
        if (has_prefix(name, stem, i, "_bacteria_"))
            i += 10;
        else if (has_prefix(name, stem, i, "_virus_"))
            i += 7;
        else
            return 0;
        if (!skip_digits(name, stem, &i))
            return 0;
        while (i < stem) {
            if (name[i++] != '_' || !skip_digits(name, stem, &i))
                return 0;
        }
        return key;
    }
    if (has_prefix(name, stem, 0, "NORMAL2-"))
        i = 8;
    if (!has_prefix(name, stem, i, "IM-"))
        return 0;
    i += 3;
    if (!skip_digits(name, stem, &i))
        return 0;
    key = i;
    if (i == stem)
        return 0; /* "IM-X" alone: no image number */
    while (i < stem) {
        if (name[i++] != '-' || !skip_digits(name, stem, &i))
            return 0;
    }
    return key;
}

/* The key of `path` as a pointer into it and a length; returns 1 if the name
 * has one of the two patient forms, 0 if the key is the whole base name. */
static int patient_key(const char *path, const char **key, size_t *klen)
{
    const char *base = strrchr(path, '/');
    size_t len, pre;
    base = base ? base + 1 : path;
    len = strlen(base);
    pre = patient_prefix(base, stem_length(base, len));
    *key = base;
    *klen = pre ? pre : len;
    return pre > 0;
}

pneumo_status pneumo_patient_id(const char *path, char *buf, size_t size, size_t *needed)
{
    static const char *fn = "pneumo_patient_id";
    const char *key;
    size_t klen;
    if (!path || !*path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: path is %s", fn, path ? "empty" : "NULL");
    if (!buf && size > 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: buf is NULL with size %zu", fn, size);
    patient_key(path, &key, &klen);
    if (klen == 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: '%s' has no file name (ends in '/')", fn, path);
    if (needed)
        *needed = klen;
    if (size > 0) {
        size_t c = klen < size - 1 ? klen : size - 1;
        memcpy(buf, key, c);
        buf[c] = '\0';
    }
    return PNEUMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Split.                                                                    */

/* One group: a patient (or, ungrouped, an image) and its images. */
typedef struct pn_group {
    const char *key;
    size_t klen;
    uint64_t hash;  /* order of the groups, from (seed, key) */
    int32_t label;  /* stratum: the lowest label of its images */
    int64_t count;  /* images */
    int32_t to_val; /* 1: validation side */
} pn_group;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* FNV-1a of the key, mixed with the seed: depends on nothing but the two. */
static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h ^ mix64(seed + 0x9e3779b97f4a7c15ull));
}

static int key_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

/* Stratum, then hash, then key (a total order on distinct keys, so ties of
 * the hash cannot depend on the listing order). */
static int cmp_group_order(const void *pa, const void *pb)
{
    const pn_group *a = *(const pn_group *const *)pa, *b = *(const pn_group *const *)pb;
    if (a->label != b->label)
        return a->label < b->label ? -1 : 1;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

typedef struct pn_keyref {
    const char *key;
    size_t klen;
    int64_t image;
} pn_keyref;

static int cmp_keyref(const void *pa, const void *pb)
{
    const pn_keyref *a = pa, *b = pb;
    int c = key_cmp(a->key, a->klen, b->key, b->klen);
    return c ? c : (a->image > b->image) - (a->image < b->image);
}

static pneumo_status check_split_options(const char *dir, const pneumo_split_options *s)
{
    pneumo_status st = PN_CHECK_STRUCT(dir, pneumo_split_options, s);
    if (st != PNEUMO_OK)
        return st;
    if (s->group != PNEUMO_SPLIT_GROUP_NONE && s->group != PNEUMO_SPLIT_GROUP_PATIENT)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: split group %d is not a pneumo_split_group", dir,
                        (int)s->group);
    if (!(s->val_fraction > 0.0 && s->val_fraction < 1.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: val_fraction %g out of range (must be strictly between 0 and 1)", dir,
                        s->val_fraction);
    return PNEUMO_OK;
}

/* Assign every image of `l` to a side: side[i] = 1 for validation. */
static pneumo_status assign_sides(const char *dir, const pneumo_split_options *s, const pn_ds_dirlist *l,
                                  int8_t *side)
{
    int64_t n = l->n, ng = 0, b;
    size_t skip = strlen(dir) + (dir[strlen(dir) - 1] != '/'); /* the listing's "dir/" */
    pn_keyref *refs = pn_malloc((size_t)n * sizeof *refs);
    pn_group *groups = pn_malloc((size_t)n * sizeof *groups);
    pn_group **order = pn_malloc((size_t)n * sizeof *order);
    int64_t *image_group = pn_malloc((size_t)n * sizeof *image_group);
    pneumo_status st = PNEUMO_OK;

    if (!refs || !groups || !order || !image_group) {
        st = pn_error_nomem(dir, (size_t)n * (sizeof *refs + sizeof *groups + 2 * sizeof(void *)));
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        refs[i].image = i;
        /* A name of neither patient form, and every image when ungrouped, is
         * keyed by "class/name" (the path without `dir`): unique per image, so
         * equal names in two class folders stay two groups, and the same
         * wherever the folder lies. */
        if (s->group != PNEUMO_SPLIT_GROUP_PATIENT ||
            !patient_key(l->paths[i], &refs[i].key, &refs[i].klen)) {
            refs[i].key = l->paths[i] + skip;
            refs[i].klen = strlen(refs[i].key);
        }
    }
    qsort(refs, (size_t)n, sizeof *refs, cmp_keyref);
    for (int64_t i = 0; i < n; i++) {
        const pn_keyref *r = &refs[i];
        int32_t lab = l->labels[r->image];
        if (ng == 0 || key_cmp(groups[ng - 1].key, groups[ng - 1].klen, r->key, r->klen) != 0) {
            pn_group *g = &groups[ng++];
            g->key = r->key;
            g->klen = r->klen;
            g->hash = key_hash(s->seed, r->key, r->klen);
            g->label = lab;
            g->count = 0;
            g->to_val = 0;
        }
        if (lab < groups[ng - 1].label)
            groups[ng - 1].label = lab;
        groups[ng - 1].count++;
        image_group[r->image] = ng - 1;
    }
    for (int64_t g = 0; g < ng; g++)
        order[g] = &groups[g];
    qsort(order, (size_t)ng, sizeof *order, cmp_group_order);

    /* order[] is sorted by stratum: class `lab` owns order[b..e). A class
     * whose images all belong to patients of a lower class has no groups. */
    b = 0;
    for (int32_t lab = 0; lab < l->num_classes && st == PNEUMO_OK; lab++) {
        int64_t e = b, total = 0, val = 0, nval = 0;
        double target;
        while (e < ng && order[e]->label == lab)
            total += order[e++]->count;
        if (e - b < 2) {
            st = pn_error(PNEUMO_ERR_FORMAT,
                          "%s: class '%s' has %lld %s(s) of its own; a split needs at least 2 so "
                          "that both sides get one",
                          dir, l->class_names[lab], (long long)(e - b),
                          s->group == PNEUMO_SPLIT_GROUP_PATIENT ? "patient" : "image");
            break;
        }
        target = s->val_fraction * (double)total;
        /* Take a group when it brings the count closer to the target:
         * |val + c - t| < |val - t|, i.e. val + c/2 < t. */
        for (int64_t g = b; g < e; g++) {
            if ((double)val + 0.5 * (double)order[g]->count < target) {
                order[g]->to_val = 1;
                val += order[g]->count;
                nval++;
            }
        }
        if (nval == 0)
            order[b]->to_val = 1;
        else if (nval == e - b)
            order[e - 1]->to_val = 0;
        b = e;
    }
    if (st == PNEUMO_OK)
        for (int64_t i = 0; i < n; i++)
            side[i] = (int8_t)groups[image_group[i]].to_val;
done:
    free(refs);
    free(groups);
    free(order);
    free(image_group);
    return st;
}

/* Open one side: the images with side[i] == want, in listing order. */
static pneumo_status open_side(const pn_ds_dirlist *l, const int8_t *side, int want,
                               const pneumo_dataset_options *o, const char **paths, int32_t *labels,
                               pneumo_dataset **out)
{
    int64_t m = 0;
    for (int64_t i = 0; i < l->n; i++) {
        if (side[i] != want)
            continue;
        paths[m] = l->paths[i];
        labels[m] = l->labels[i];
        m++;
    }
    return pneumo_dataset_open_files(paths, labels, m, l->num_classes, l->class_names, o, out);
}

pneumo_status pneumo_dataset_open_split(const char *dir, const pneumo_split_options *s,
                                        const pneumo_dataset_options *train_o,
                                        const pneumo_dataset_options *val_o, pneumo_dataset **train,
                                        pneumo_dataset **val)
{
    static const char *fn = "pneumo_dataset_open_split";
    pneumo_split_options def;
    pn_ds_dirlist l;
    int8_t *side = NULL;
    const char **paths = NULL;
    int32_t *labels = NULL;
    pneumo_status st;

    if (train)
        *train = NULL;
    if (val)
        *val = NULL;
    if (!dir || !train || !val)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn,
                        !dir     ? "dir"
                        : !train ? "train"
                                 : "val");
    if (!*dir)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: dir is empty", fn);
    if (!s) {
        pneumo_split_default_options(&def);
        s = &def;
    }
    st = check_split_options(dir, s);
    if (st != PNEUMO_OK)
        return st;
    st = pn_ds_list_dir(dir, &l);
    if (st != PNEUMO_OK)
        return st;
    side = pn_malloc((size_t)l.n * sizeof *side);
    paths = pn_malloc((size_t)l.n * sizeof *paths);
    labels = pn_malloc((size_t)l.n * sizeof *labels);
    if (!side || !paths || !labels)
        st = pn_error_nomem(dir, (size_t)l.n * (sizeof *side + sizeof *paths + sizeof *labels));
    if (st == PNEUMO_OK)
        st = assign_sides(dir, s, &l, side);
    if (st == PNEUMO_OK && open_side(&l, side, 0, train_o, paths, labels, train) != PNEUMO_OK)
        st = pn_error_prefix("%s (training side)", dir);
    if (st == PNEUMO_OK && open_side(&l, side, 1, val_o, paths, labels, val) != PNEUMO_OK)
        st = pn_error_prefix("%s (validation side)", dir);
    if (st != PNEUMO_OK) {
        pneumo_dataset_destroy(*train);
        *train = NULL;
    }
    free(side);
    free(paths);
    free(labels);
    pn_ds_dirlist_free(&l);
    return st;
}
