// safetensors writer: test fixtures, converted checkpoints, dumps of intermediate tensors.
//
// The layout follows the reference writer so the Python package accepts the file: tensors sorted
// by descending element size then name and packed with no holes (its reader rejects holes), the
// header padded with spaces to a multiple of 8. Offsets are printed as exact integers by hand
// (cJSON would print doubles, and "1e+15" is not an integer to serde).
#include "runtime/vs_safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = vs_malloc(cap);
        if (b->s) memcpy(p, b->s, b->len);
        free(b->s);
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}
static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

// A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passes through.
static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static vs_st_dtype st_dtype_of(vs_dtype d) {
    switch (d) {
    case VS_F32: return VS_ST_F32;
    case VS_BF16: return VS_ST_BF16;
    case VS_F16: return VS_ST_F16;
    case VS_I32: return VS_ST_I32;
    case VS_I64: return VS_ST_I64;
    default: return VS_ST_DTYPE_COUNT;
    }
}

static _Thread_local const char *const *g_sort_names;  // qsort has no context argument in C11
static _Thread_local const vs_tensor *g_sort_tensors;
static int write_order(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    size_t si = vs_dtype_size(g_sort_tensors[i].dtype), sj = vs_dtype_size(g_sort_tensors[j].dtype);
    if (si != sj) return si > sj ? -1 : 1;
    return strcmp(g_sort_names[i], g_sort_names[j]);
}

static int check_inputs(const char *path, int n, const char *const *names, const vs_tensor *tensors,
                        int n_meta, const char *const *keys, const char *const *values) {
    if (n < 0 || n_meta < 0 || (n > 0 && (!names || !tensors)) ||
        (n_meta > 0 && (!keys || !values)))
        return VS_FAIL("%s: vs_st_write: bad arguments (n %d, n_meta %d)", path, n, n_meta);
    for (int i = 0; i < n; i++) {
        const vs_tensor *t = &tensors[i];
        if (!names[i]) return VS_FAIL("%s: vs_st_write: tensor %d has no name", path, i);
        if (!strcmp(names[i], "__metadata__"))
            return VS_FAIL("%s: vs_st_write: '__metadata__' is reserved, not a tensor name", path);
        if (t->device != VS_DEV_CPU)
            return VS_FAIL("%s: vs_st_write: tensor '%.200s' is not in CPU memory; copy it to the "
                           "host first", path, names[i]);
        if (st_dtype_of(t->dtype) == VS_ST_DTYPE_COUNT || t->ndim < 0 || t->ndim > VS_MAX_DIMS)
            return VS_FAIL("%s: vs_st_write: tensor '%.200s' has an invalid dtype or rank", path,
                           names[i]);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return VS_FAIL("%s: vs_st_write: tensor '%.200s' has a negative dimension", path,
                               names[i]);
        if (vs_tensor_numel(t) > 0 && !t->data)
            return VS_FAIL("%s: vs_st_write: tensor '%.200s' has no data", path, names[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return VS_FAIL("%s: vs_st_write: tensor name '%.200s' is used twice", path, names[i]);
    }
    for (int i = 0; i < n_meta; i++)
        if (!keys[i] || !values[i])
            return VS_FAIL("%s: vs_st_write: metadata entry %d is NULL", path, i);
    return 0;
}

int vs_st_write(const char *path, int n, const char *const *names, const vs_tensor *tensors,
                int n_meta, const char *const *meta_keys, const char *const *meta_values) {
    if (check_inputs(path, n, names, tensors, n_meta, meta_keys, meta_values) != 0) return -1;
    int *order = vs_malloc((size_t)(n ? n : 1) * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = i;
    g_sort_names = names;
    g_sort_tensors = tensors;
    qsort(order, (size_t)n, sizeof *order, write_order);

    strbuf h = {0};
    sb_str(&h, "{");
    int first = 1;
    if (n_meta > 0) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, meta_keys[i]);
            sb_str(&h, ":");
            sb_json_string(&h, meta_values[i]);
        }
        sb_str(&h, "}");
        first = 0;
    }
    uint64_t offset = 0;
    for (int k = 0; k < n; k++) {
        const vs_tensor *t = &tensors[order[k]];
        char num[64];
        if (!first) sb_str(&h, ",");
        first = 0;
        sb_json_string(&h, names[order[k]]);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, vs_st_dtype_name(st_dtype_of(t->dtype)));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            sb_str(&h, num);
        }
        uint64_t bytes = vs_tensor_bytes(t);
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + bytes));
        sb_str(&h, num);
        offset += bytes;
    }
    sb_str(&h, "}");
    while (h.len % 8) sb_str(&h, " ");

    int rc = 0;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        rc = VS_FAIL("%s: cannot create: %s (check the folder exists and is writable)", path,
                     strerror(errno));
    } else {
        uint8_t len_le[8];
        for (int i = 0; i < 8; i++) len_le[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
        int ok = fwrite(len_le, 1, 8, fp) == 8 && fwrite(h.s, 1, h.len, fp) == h.len;
        for (int k = 0; k < n && ok; k++) {
            const vs_tensor *t = &tensors[order[k]];
            size_t bytes = vs_tensor_bytes(t);
            ok = bytes == 0 || fwrite(t->data, 1, bytes, fp) == bytes;
        }
        int err = errno;
        if (fclose(fp) != 0 && ok) {
            ok = 0;
            err = errno;
        }
        if (!ok) {
            remove(path);
            rc = VS_FAIL("%s: write failed: %s (disk full?)", path, strerror(err));
        }
    }
    free(h.s);
    free(order);
    return rc;
}
