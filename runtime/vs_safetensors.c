// safetensors reader: mmap the file, validate the whole header before any tensor is used.
//
// A checkpoint comes from outside (a download, a conversion script), so nothing in it is trusted:
// every length, offset and shape is checked against the file before vs_st_open returns 0, and
// every later access (vs_st_read_f32, the model loader reading f->data + e->begin) stays in the
// mapping. Offsets are read through cJSON's double (exact below 2^53) rather than valueint,
// which saturates at INT_MAX and would silently break tensors past 2 GiB.
// Holes between tensors are accepted (the reference reader rejects them; we only need safety).
// Tensor data is little-endian; like the rest of the runtime this assumes a little-endian host.
#include "runtime/vs_safetensors.h"
#include "runtime/vs_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ull  // the reference reader's limit (100 MB)
#define ST_MAX_EXACT 9007199254740992.0  // 2^53: doubles are exact integers below this

static const struct {
    const char *name;
    size_t size;
} dtype_info[VS_ST_DTYPE_COUNT] = {
    [VS_ST_F32] = {"F32", 4},     [VS_ST_BF16] = {"BF16", 2},       [VS_ST_F16] = {"F16", 2},
    [VS_ST_I32] = {"I32", 4},     [VS_ST_I64] = {"I64", 8},         [VS_ST_F64] = {"F64", 8},
    [VS_ST_U8] = {"U8", 1},       [VS_ST_I8] = {"I8", 1},           [VS_ST_BOOL] = {"BOOL", 1},
    [VS_ST_I16] = {"I16", 2},     [VS_ST_U16] = {"U16", 2},         [VS_ST_U32] = {"U32", 4},
    [VS_ST_U64] = {"U64", 8},     [VS_ST_F8_E4M3] = {"F8_E4M3", 1}, [VS_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *vs_st_dtype_name(vs_st_dtype dtype) {
    return (unsigned)dtype < VS_ST_DTYPE_COUNT ? dtype_info[dtype].name : "invalid";
}
size_t vs_st_dtype_size(vs_st_dtype dtype) {
    return (unsigned)dtype < VS_ST_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

int64_t vs_st_numel(const vs_st_entry *e) {
    int64_t n = 1;  // validated at open: the product does not overflow
    for (int i = 0; i < e->ndim; i++) n *= e->shape[i];
    return n;
}

static int dtype_from_name(const char *s, vs_st_dtype *out) {
    for (int i = 0; i < VS_ST_DTYPE_COUNT; i++)
        if (!strcmp(s, dtype_info[i].name)) {
            *out = (vs_st_dtype)i;
            return 0;
        }
    return -1;
}

// Valid safetensors dtypes we do not hold (sub-byte and exotic floats): named in the message so
// the user knows the file is fine but needs converting.
static int is_other_known_dtype(const char *s) {
    static const char *other[] = {"F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ",
                                  "F8_E5M2FNUZ", "C64"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (!strcmp(s, other[i])) return 1;
    return 0;
}

// A JSON number that is an exact non-negative integer below 2^53.
static int json_u53(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return -1;
    double v = item->valuedouble;
    if (!(v >= 0.0) || v >= ST_MAX_EXACT || v != floor(v)) return -1;
    *out = (uint64_t)v;
    return 0;
}

static void free_entries(vs_st_file *f) {
    for (int i = 0; i < f->n_entries; i++) free(f->entries[i].name);
    free(f->entries);
    f->entries = NULL;
    f->n_entries = 0;
}

void vs_st_close(vs_st_file *f) {
    if (!f) return;
    free_entries(f);
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->size);
    free(f->path);
    free(f->metadata_json);
    memset(f, 0, sizeof *f);
}

// __metadata__ must be a string -> string map (the format says so; the Python reader enforces it).
static int read_metadata(vs_st_file *f, const cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return VS_FAIL("%s: __metadata__ is %s, expected an object of strings", f->path,
                       vs_json_type_name(meta));
    for (const cJSON *kv = meta->child; kv; kv = kv->next)
        if (!cJSON_IsString(kv))
            return VS_FAIL("%s: __metadata__ key '%.200s' is %s, expected a string", f->path,
                           kv->string, vs_json_type_name(kv));
    f->metadata_json = cJSON_PrintUnformatted(meta);
    if (!f->metadata_json) return VS_FAIL("%s: out of memory printing __metadata__", f->path);
    return 0;
}

// One header entry {"dtype", "shape", "data_offsets"}, checked against the data section size.
static int read_entry(const vs_st_file *f, const cJSON *item, uint64_t data_size, vs_st_entry *e) {
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return VS_FAIL("%s: tensor '%.200s': entry is %s, expected an object with dtype, shape, "
                       "data_offsets", f->path, name, vs_json_type_name(item));

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dt))
        return VS_FAIL("%s: tensor '%.200s': 'dtype' is %s, expected a string such as \"BF16\"",
                       f->path, name, dt ? vs_json_type_name(dt) : "missing");
    if (dtype_from_name(dt->valuestring, &e->dtype) != 0) {
        if (is_other_known_dtype(dt->valuestring))
            return VS_FAIL("%s: tensor '%.200s': dtype %s is valid safetensors but not supported "
                           "here; convert the checkpoint to BF16 or F32", f->path, name,
                           dt->valuestring);
        return VS_FAIL("%s: tensor '%.200s': unknown dtype \"%.40s\"", f->path, name,
                       dt->valuestring);
    }

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return VS_FAIL("%s: tensor '%.200s': 'shape' is %s, expected an array of integers", f->path,
                       name, shape ? vs_json_type_name(shape) : "missing");
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > VS_MAX_DIMS)
        return VS_FAIL("%s: tensor '%.200s': shape has %d dimensions, at most %d are supported",
                       f->path, name, ndim, VS_MAX_DIMS);
    e->ndim = ndim;
    uint64_t numel = 1;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t v;
        if (json_u53(dim, &v) != 0)
            return VS_FAIL("%s: tensor '%.200s': shape[%d] is not a non-negative integer below 2^53",
                           f->path, name, d);
        // The product must not overflow at any point (the reference reader uses checked_mul).
        if (v != 0 && numel > (uint64_t)INT64_MAX / v)
            return VS_FAIL("%s: tensor '%.200s': shape product overflows 64 bits at shape[%d]",
                           f->path, name, d);
        numel *= v;
        e->shape[d] = (int64_t)v;
    }
    size_t esize = vs_st_dtype_size(e->dtype);
    if (numel > (uint64_t)INT64_MAX / esize)
        return VS_FAIL("%s: tensor '%.200s': %llu elements of %s overflow 64-bit byte counts",
                       f->path, name, (unsigned long long)numel, dt->valuestring);
    uint64_t bytes = numel * esize;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return VS_FAIL("%s: tensor '%.200s': 'data_offsets' is %s, expected [begin, end]", f->path,
                       name, off ? (cJSON_IsArray(off) ? "an array of the wrong length"
                                                       : vs_json_type_name(off))
                                 : "missing");
    if (json_u53(off->child, &e->begin) != 0 || json_u53(off->child->next, &e->end) != 0)
        return VS_FAIL("%s: tensor '%.200s': data_offsets must be non-negative integers below 2^53",
                       f->path, name);
    if (e->end < e->begin)
        return VS_FAIL("%s: tensor '%.200s': data_offsets end %llu is before begin %llu", f->path,
                       name, (unsigned long long)e->end, (unsigned long long)e->begin);
    if (e->end > data_size)
        return VS_FAIL("%s: tensor '%.200s': data_offsets end %llu is past the data section "
                       "(%llu bytes); the file is truncated or the header is wrong", f->path, name,
                       (unsigned long long)e->end, (unsigned long long)data_size);
    if (e->end - e->begin != bytes) {
        char buf[128];
        return VS_FAIL("%s: tensor '%.200s': byte range [%llu, %llu) holds %llu bytes but shape %s "
                       "of %s needs %llu; the file is corrupt", f->path, name, (unsigned long long)e->begin,
                       (unsigned long long)e->end, (unsigned long long)(e->end - e->begin),
                       vs_shape_str(e->ndim, e->shape, buf, sizeof buf), dt->valuestring,
                       (unsigned long long)bytes);
    }
    e->name = strdup(name);
    if (!e->name) return VS_FAIL("%s: out of memory", f->path);
    return 0;
}

static _Thread_local const vs_st_entry *g_sort_entries;  // qsort has no context argument in C11
static int by_begin(const void *a, const void *b) {
    const vs_st_entry *x = &g_sort_entries[*(const int *)a], *y = &g_sort_entries[*(const int *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}
static int by_name(const void *a, const void *b) {
    return strcmp(g_sort_entries[*(const int *)a].name, g_sort_entries[*(const int *)b].name);
}

// Ranges sorted by begin may not overlap; names may not repeat (cJSON keeps duplicate keys).
static int check_layout(const vs_st_file *f) {
    int n = f->n_entries;
    if (n < 2) return 0;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return VS_FAIL("%s: out of memory", f->path);
    for (int i = 0; i < n; i++) order[i] = i;
    g_sort_entries = f->entries;
    int rc = 0;
    qsort(order, (size_t)n, sizeof *order, by_name);
    for (int i = 1; i < n && rc == 0; i++)
        if (!strcmp(f->entries[order[i]].name, f->entries[order[i - 1]].name))
            rc = VS_FAIL("%s: tensor '%.200s' appears twice in the header", f->path,
                         f->entries[order[i]].name);
    if (rc == 0) {
        qsort(order, (size_t)n, sizeof *order, by_begin);
        int last = order[0];  // the entry reaching furthest so far
        for (int i = 1; i < n && rc == 0; i++) {
            const vs_st_entry *e = &f->entries[order[i]], *p = &f->entries[last];
            if (e->begin < p->end)
                rc = VS_FAIL("%s: tensor '%.200s' bytes [%llu, %llu) overlap tensor '%.200s' "
                             "[%llu, %llu); the file is corrupt, re-download or re-convert it", f->path, e->name, (unsigned long long)e->begin,
                             (unsigned long long)e->end, p->name, (unsigned long long)p->begin,
                             (unsigned long long)p->end);
            if (e->end > p->end) last = order[i];
        }
    }
    g_sort_entries = NULL;
    free(order);
    return rc;
}

static int parse_header(vs_st_file *f, const char *text, size_t len, uint64_t data_size) {
    size_t start = 0;
    while (start < len && (text[start] == ' ' || text[start] == '\n' || text[start] == '\t' ||
                           text[start] == '\r'))
        start++;
    if (start == len || text[start] != '{')
        return VS_FAIL("%s: header is not a JSON object (it must start with '{'); not a "
                       "safetensors file?", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return VS_FAIL("%s: header is not valid JSON (error near byte %zu of %zu)", f->path, at, len);
    }
    // Only padding may follow the object.
    for (const char *p = end; p && p < text + len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != '\0') {
            cJSON_Delete(root);
            return VS_FAIL("%s: header has data after the JSON object (at byte %zu of %zu)", f->path,
                           (size_t)(p - text), len);
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return VS_FAIL("%s: header is not a JSON object", f->path);
    }

    int count = 0, n_meta = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) n_meta++;
        else count++;
    }
    int rc = 0;
    if (n_meta > 1) rc = VS_FAIL("%s: '__metadata__' appears twice in the header", f->path);
    f->entries = count ? calloc((size_t)count, sizeof *f->entries) : NULL;
    if (count && !f->entries) rc = VS_FAIL("%s: out of memory for %d entries", f->path, count);
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) rc = read_metadata(f, it);
        else if ((rc = read_entry(f, it, data_size, &f->entries[f->n_entries])) == 0) f->n_entries++;
    }
    cJSON_Delete(root);
    if (rc == 0) rc = check_layout(f);
    return rc;
}

int vs_st_open(vs_st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) return VS_FAIL("out of memory");
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int err = errno;
        vs_st_close(f);
        return VS_FAIL("%s: cannot open: %s (check the path and permissions)", path, strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        vs_st_close(f);
        return VS_FAIL("%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        vs_st_close(f);
        return VS_FAIL("%s: truncated: %lld bytes, shorter than the 8-byte header length", path,
                       (long long)st.st_size);
    }
    f->size = (size_t)st.st_size;
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_err = errno;
    close(fd);  // the mapping keeps the file alive
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        vs_st_close(f);
        return VS_FAIL("%s: mmap failed: %s", path, strerror(map_err));
    }
    const uint8_t *b = f->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > ST_MAX_HEADER) {
        vs_st_close(f);
        return VS_FAIL("%s: header length %llu is over the 100 MB limit; not a safetensors file?",
                       path, (unsigned long long)n);
    }
    if (n > f->size - 8) {
        unsigned long long size = f->size;
        vs_st_close(f);
        return VS_FAIL("%s: header length %llu runs past the end of the file (%llu bytes); the file "
                       "is truncated or not safetensors", path, (unsigned long long)n, size);
    }
    f->data = b + 8 + n;
    if (parse_header(f, (const char *)b + 8, (size_t)n, f->size - 8 - n) != 0) {
        vs_st_close(f);
        return -1;
    }
    return 0;
}

const vs_st_entry *vs_st_find(const vs_st_file *f, const char *name) {
    for (int i = 0; i < f->n_entries; i++)
        if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
    return NULL;
}

// fp8 (OCP): E4M3 (bias 7, no infinities, S.1111.111 is NaN) and E5M2 (bias 15, IEEE-like).
static float f8_to_f32(uint8_t x, int exp_bits, int bias) {
    int man_bits = 7 - exp_bits;
    int sign = x >> 7, e = (x >> man_bits) & ((1 << exp_bits) - 1), m = x & ((1 << man_bits) - 1);
    float v;
    if (exp_bits == 4 && e == 15 && m == 7) v = NAN;
    else if (exp_bits == 5 && e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexpf((float)m, 1 - bias - man_bits);
    else v = ldexpf((float)(m | (1 << man_bits)), e - bias - man_bits);
    return sign ? -v : v;
}

// Loads of element i from a buffer that may be unaligned (memcpy, not a cast).
#define DEFINE_LOAD(fn, type)                                                                \
    static inline type fn(const uint8_t *src, int64_t i) {                                  \
        type v;                                                                             \
        memcpy(&v, src + (size_t)i * sizeof v, sizeof v);                                   \
        return v;                                                                           \
    }
DEFINE_LOAD(load_u16, uint16_t)
DEFINE_LOAD(load_i16, int16_t)
DEFINE_LOAD(load_u32, uint32_t)
DEFINE_LOAD(load_i32, int32_t)
DEFINE_LOAD(load_u64, uint64_t)
DEFINE_LOAD(load_i64, int64_t)
DEFINE_LOAD(load_f64, double)

int vs_st_read_f32(const vs_st_file *f, const vs_st_entry *e, float *dst) {
    if (e < f->entries || e >= f->entries + f->n_entries)
        return VS_FAIL("%s: vs_st_read_f32 was given an entry of another file", f->path);
    const uint8_t *src = f->data + e->begin;
    int64_t n = vs_st_numel(e);
    switch (e->dtype) {
    case VS_ST_F32: if (n) memcpy(dst, src, (size_t)n * 4); break;
    case VS_ST_BF16: for (int64_t i = 0; i < n; i++) dst[i] = vs_bf16_to_f32(load_u16(src, i)); break;
    case VS_ST_F16: for (int64_t i = 0; i < n; i++) dst[i] = vs_f16_to_f32(load_u16(src, i)); break;
    case VS_ST_F64: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_f64(src, i); break;
    case VS_ST_I32: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_i32(src, i); break;
    case VS_ST_I64: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_i64(src, i); break;
    case VS_ST_U8: for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i]; break;
    case VS_ST_I8: for (int64_t i = 0; i < n; i++) dst[i] = (float)(int8_t)src[i]; break;
    case VS_ST_BOOL: for (int64_t i = 0; i < n; i++) dst[i] = src[i] ? 1.0f : 0.0f; break;
    case VS_ST_I16: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_i16(src, i); break;
    case VS_ST_U16: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_u16(src, i); break;
    case VS_ST_U32: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_u32(src, i); break;
    case VS_ST_U64: for (int64_t i = 0; i < n; i++) dst[i] = (float)load_u64(src, i); break;
    case VS_ST_F8_E4M3: for (int64_t i = 0; i < n; i++) dst[i] = f8_to_f32(src[i], 4, 7); break;
    case VS_ST_F8_E5M2: for (int64_t i = 0; i < n; i++) dst[i] = f8_to_f32(src[i], 5, 15); break;
    default:
        return VS_FAIL("%s: tensor '%.200s': no f32 conversion for dtype %s", f->path, e->name,
                       vs_st_dtype_name(e->dtype));
    }
    return 0;
}
