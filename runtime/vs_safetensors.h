// safetensors reading (mmap, every entry validated) and writing, and multi-file checkpoints.
//
// Reading validates, before any tensor is touched: the 8-byte little-endian header length is in
// bounds, the header is a JSON object, every entry has a known dtype, a shape of non-negative
// dims whose product times the dtype size equals its byte range, in-bounds [begin, end) offsets
// (read as exact 64-bit integers, so > 2 GiB works), no two entries overlap, no duplicate names,
// the header is at most 100 MB, "__metadata__" is a string->string map. Zero-size and 0-D tensors
// are fine. Holes between tensors are accepted (the reference reader rejects them).
// Other valid safetensors dtypes (F4, F6_*, F8_E8M0, *FNUZ, C64) are rejected by name.
// Every failure returns -1 with a message in vs_last_error() naming the file and the tensor.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    VS_ST_F32, VS_ST_BF16, VS_ST_F16, VS_ST_I32, VS_ST_I64, VS_ST_F64,
    VS_ST_U8, VS_ST_I8, VS_ST_BOOL, VS_ST_I16, VS_ST_U16, VS_ST_U32, VS_ST_U64,
    VS_ST_F8_E4M3, VS_ST_F8_E5M2,  // fp8 checkpoints (e.g. ComfyUI's Wan repacks)
    VS_ST_DTYPE_COUNT
} vs_st_dtype;

typedef struct {
    char *name;
    vs_st_dtype dtype;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    uint64_t begin, end;  // byte range relative to the data section
} vs_st_entry;

// Tensor data lives at data + begin: little-endian, aligned to the element size when the file
// comes from the reference writer or vs_st_write, but not guaranteed for other writers.
typedef struct {
    char *path;
    void *map;              // whole file, read-only
    size_t size;
    const uint8_t *data;    // start of the data section
    int n_entries;
    vs_st_entry *entries;   // in header order
    char *metadata_json;    // "__metadata__" object as JSON text, or NULL
} vs_st_file;

int vs_st_open(vs_st_file *f, const char *path);
void vs_st_close(vs_st_file *f);
const vs_st_entry *vs_st_find(const vs_st_file *f, const char *name);
const char *vs_st_dtype_name(vs_st_dtype dtype);
size_t vs_st_dtype_size(vs_st_dtype dtype);
int64_t vs_st_numel(const vs_st_entry *e);
// Converts one tensor of any dtype above to f32 (unaligned data is fine); dst holds vs_st_numel
// floats. Integers beyond 2^24 and F64 lose precision as f32 does.
int vs_st_read_f32(const vs_st_file *f, const vs_st_entry *e, float *dst);

// Writes tensors (CPU memory) to a new safetensors file that the Python package reads: the header
// is space-padded so the data section starts 8-aligned, and tensors are packed without holes
// (the reference reader demands that), sorted by descending element size then name, so each
// is aligned to its element size. Names must be unique and not "__metadata__".
// metadata: NULL or n_meta key/value string pairs.
int vs_st_write(const char *path, int n, const char *const *names, const vs_tensor *tensors,
                int n_meta, const char *const *meta_keys, const char *const *meta_values);

// A checkpoint of one or more files: `path` is a .safetensors file, a *.safetensors.index.json
// (its weight_map names each tensor's shard), or a directory holding exactly one of those
// (diffusion_pytorch_model.safetensors[.index.json] or model.safetensors[.index.json]).
typedef struct {
    int n_files;
    vs_st_file *files;
} vs_checkpoint;

int vs_checkpoint_open(vs_checkpoint *c, const char *path);
void vs_checkpoint_close(vs_checkpoint *c);
// Finds a tensor by name in any shard; NULL if absent. *file (if not NULL) gets its shard.
const vs_st_entry *vs_checkpoint_find(const vs_checkpoint *c, const char *name,
                                      const vs_st_file **file);

#ifdef __cplusplus
}
#endif
