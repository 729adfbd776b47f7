/* Dataset folder scanning: the input describes a tree of class folders,
 * files (arbitrary bytes, or a valid tiny PNG / JPEG), and symbolic links
 * (relative targets that stay inside the tree: loops, dangling links, links to
 * folders and files), which is created in a temporary folder, opened with
 * pneumo_dataset_open_dir() and iterated for one epoch.
 * Record: op (bits 0-1 kind: 0 folder, 1 file, 2 link, 3 valid image; bits 2-7
 * parent folder index), name length, name bytes, content length (one byte),
 * content bytes. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pneumo/dataset.h"
#include "pneumo/image_write.h"

#define MAX_DIRS 16

struct tree {
    char dirs[MAX_DIRS][640];
    int depth[MAX_DIRS];
    int ndirs;
};

static const char *extension(uint8_t b)
{
    static const char *const ext[8] = {".png", ".jpg", ".jpeg", ".PNG", "", ".txt", ".JPG", ".bmp"};
    return ext[b & 7];
}

/* name bytes mapped to [a-z0-9._-]; "." and ".." kept (they exist anyway) */
static void make_name(const uint8_t *p, size_t n, char *out)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
    size_t i;
    for (i = 0; i < n && i < 12; i++)
        out[i] = set[p[i] % (sizeof set - 1)];
    out[i] = '\0';
    if (i == 0)
        strcpy(out, "x");
}

static const uint8_t *tiny_png(size_t *size)
{
    static void *png;
    static size_t png_size;
    if (!png) {
        pneumo_image *img = NULL;
        if (pneumo_image_create(3, 2, &img) != PNEUMO_OK ||
            pneumo_image_encode_png(img, &png, &png_size) != PNEUMO_OK)
            abort();
        pneumo_image_destroy(img);
    }
    *size = png_size;
    return png;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tree t;
    char root[600], path[700];
    size_t pos = 1;
    pneumo_dataset_options o;
    pneumo_dataset *ds = NULL;
    if (size < 1)
        return 0;
    snprintf(root, sizeof root, "%s/tree", fz_tmpdir());
    fz_remove_tree(root);
    if (mkdir(root, 0700) != 0)
        return 0;
    memset(&t, 0, sizeof t);
    memcpy(t.dirs[0], root, strlen(root) + 1);
    t.ndirs = 1;
    for (int rec = 0; rec < 64 && pos + 2 <= size; rec++) {
        uint8_t op = data[pos], nlen = data[pos + 1] % 13;
        const uint8_t *name_p = data + pos + 2;
        const uint8_t *content;
        size_t clen;
        char name[16];
        int parent = (op >> 2) % t.ndirs;
        if (pos + 2 + nlen + 1 > size)
            break;
        make_name(name_p, nlen, name);
        clen = data[pos + 2 + nlen];
        content = data + pos + 3 + nlen;
        if (clen > size - (pos + 3 + nlen))
            clen = size - (pos + 3 + nlen);
        pos += 3 + nlen + clen;
        switch (op & 3) {
        case 0:
            snprintf(path, sizeof path, "%s/%s", t.dirs[parent], name);
            if (t.ndirs < MAX_DIRS && strlen(path) < sizeof t.dirs[0] && mkdir(path, 0700) == 0) {
                memcpy(t.dirs[t.ndirs], path, strlen(path) + 1);
                t.depth[t.ndirs] = t.depth[parent] + 1;
                t.ndirs++;
            }
            break;
        case 1:
            snprintf(path, sizeof path, "%s/%s%s", t.dirs[parent], name, extension(op >> 5));
            fz_write_file(path, content, clen);
            break;
        case 2: {
            /* relative target of [a-z./] with at most depth ".." steps */
            char target[300];
            size_t n = 0;
            int ups = 0, ok = 1;
            for (size_t i = 0; i < clen && n < 64; i++)
                target[n++] = "ab./"[content[i] & 3];
            target[n] = '\0';
            for (const char *s = target; (s = strstr(s, "..")) != NULL; s += 2)
                ups++;
            if (n == 0 || ups > t.depth[parent])
                ok = 0;
            snprintf(path, sizeof path, "%s/%s%s", t.dirs[parent], name, extension(op >> 5));
            if (ok)
                (void)!symlink(target, path); /* may exist already: then skipped */
            break;
        }
        default: {
            size_t isz;
            const uint8_t *img = tiny_png(&isz);
            snprintf(path, sizeof path, "%s/%s.png", t.dirs[parent], name);
            fz_write_file(path, img, isz);
            break;
        }
        }
    }
    pneumo_dataset_default_options(&o);
    o.width = 4;
    o.height = 3;
    o.threads = 1 + (data[0] & 1);
    o.strict = (data[0] >> 1) & 1;
    o.prefetch_batches = (data[0] >> 2) & 1;
    o.cache_bytes = (data[0] >> 3) & 1 ? 1 << 20 : 0;
    if (pneumo_dataset_open_dir(root, &o, &ds) == PNEUMO_OK) {
        if (pneumo_dataset_begin_epoch(ds, 0, 2) == PNEUMO_OK)
            for (int i = 0; i < 64; i++) {
                pneumo_tensor *x = NULL, *y = NULL;
                if (pneumo_dataset_next_batch(ds, &x, &y, NULL) != PNEUMO_OK && i > 40)
                    break;
                if (!x)
                    break;
            }
        pneumo_dataset_destroy(ds);
    }
    fz_remove_tree(root);
    return 0;
}
