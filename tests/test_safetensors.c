// safetensors reader, writer and multi-file checkpoints: valid files round-trip exactly (every
// dtype, 0-D and zero-size tensors, offsets past 2 GiB and 4 GiB in a sparse file), and every
// kind of corrupt header or index fails with -1 and a message naming the file and the problem.
#define _XOPEN_SOURCE 700  // nftw, to clean up the temporary folder
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/vs_safetensors.h"
#include "tests/vs_test.h"

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

// A file from raw parts: 8-byte little-endian header length, the header text, then data.
static void write_raw(const char *path, const char *header, const void *data, size_t data_len) {
    FILE *fp = fopen(path, "wb");
    VS_ASSERT(fp, "cannot create a test file in /tmp");
    uint64_t n = strlen(header);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(n >> (8 * i));
    VS_ASSERT(fwrite(len, 1, 8, fp) == 8, "write failed");
    VS_ASSERT(fwrite(header, 1, n, fp) == n, "write failed");
    if (data_len) VS_ASSERT(fwrite(data, 1, data_len, fp) == data_len, "write failed");
    VS_ASSERT(fclose(fp) == 0, "write failed");
}

// Opening `path` must fail with a message holding `what` and the file's path.
#define EXPECT_OPEN_FAILS(path, what)                                                        \
    do {                                                                                     \
        vs_st_file f_;                                                                       \
        vs_clear_error();                                                                    \
        int rc_ = vs_st_open(&f_, (path));                                                   \
        CHECK_MSG(rc_ == -1, "%s opened but should fail with '%s'", (path), (what));         \
        CHECK_MSG(strstr(vs_last_error(), (what)) && strstr(vs_last_error(), (path)),        \
                  "error '%s' lacks '%s' or the path", vs_last_error(), (what));             \
        CHECK(f_.entries == NULL && f_.map == NULL);                                         \
        if (rc_ == 0) vs_st_close(&f_);                                                      \
    } while (0)

// A one-tensor header {"<name>": <entry>} with `data_len` zero bytes of data, expected to fail.
static void expect_entry_fails(const char *entry, size_t data_len, const char *what) {
    char header[1024];
    snprintf(header, sizeof header, "{\"t\":%s}", entry);
    static uint8_t zeros[256];
    const char *p = tmp_path("bad.safetensors");
    write_raw(p, header, zeros, data_len);
    EXPECT_OPEN_FAILS(p, what);
}

static void test_roundtrip_writer(void) {
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    vs_bf16 b[4];
    vs_f16 h[3];
    int32_t i32[5] = {0, -1, 2147483647, -2147483647, 42};
    int64_t i64[2] = {-5, 1ll << 40};
    float scalar = 2.25f;
    float bf_src[4] = {1.0f, -0.5f, 3.0f, 1024.0f}, h_src[3] = {0.25f, -8.0f, 65504.0f};
    for (int i = 0; i < 4; i++) b[i] = vs_f32_to_bf16(bf_src[i]);
    for (int i = 0; i < 3; i++) h[i] = vs_f32_to_f16(h_src[i]);
    int64_t s_a[] = {2, 3}, s_b[] = {4}, s_h[] = {3, 1}, s_i32[] = {5}, s_i64[] = {2}, s_z[] = {0, 4};
    vs_tensor t[] = {
        vs_tensor_view(a, VS_F32, VS_DEV_CPU, 2, s_a),     vs_tensor_view(b, VS_BF16, VS_DEV_CPU, 1, s_b),
        vs_tensor_view(h, VS_F16, VS_DEV_CPU, 2, s_h),     vs_tensor_view(i32, VS_I32, VS_DEV_CPU, 1, s_i32),
        vs_tensor_view(i64, VS_I64, VS_DEV_CPU, 1, s_i64), vs_tensor_view(&scalar, VS_F32, VS_DEV_CPU, 0, NULL),
        vs_tensor_view(NULL, VS_F32, VS_DEV_CPU, 2, s_z),
    };
    const char *names[] = {"blocks.0.w", "b \"quoted\"\\", "h", "ints", "longs", "scalar", "empty"};
    const char *keys[] = {"format", "note"}, *values[] = {"pt", "line\nbreak"};
    const char *p = tmp_path("rt.safetensors");
    CHECK(vs_st_write(p, 7, names, t, 2, keys, values) == 0);

    vs_st_file f;
    CHECK_MSG(vs_st_open(&f, p) == 0, "%s", vs_last_error());
    CHECK(f.n_entries == 7);
    CHECK(((uintptr_t)f.data - (uintptr_t)f.map) % 8 == 0);
    CHECK(f.metadata_json && strstr(f.metadata_json, "\"format\":\"pt\"") &&
          strstr(f.metadata_json, "line\\nbreak"));
    for (int k = 0; k < 7; k++) {
        const vs_st_entry *e = vs_st_find(&f, names[k]);
        CHECK_MSG(e != NULL, "missing %s", names[k]);
        if (!e) continue;
        CHECK(e->ndim == t[k].ndim);
        for (int d = 0; d < e->ndim; d++) CHECK(e->shape[d] == t[k].shape[d]);
        CHECK(e->begin % vs_st_dtype_size(e->dtype) == 0);  // aligned to the element size
        CHECK(vs_st_numel(e) == vs_tensor_numel(&t[k]));
        if (vs_st_numel(e) > 0)
            CHECK(memcmp(f.data + e->begin, t[k].data, vs_tensor_bytes(&t[k])) == 0);
    }
    CHECK(vs_st_find(&f, "nope") == NULL);
    CHECK(vs_st_find(&f, "blocks.0.w")->dtype == VS_ST_F32);
    CHECK(vs_st_find(&f, names[1])->dtype == VS_ST_BF16);
    CHECK(vs_st_find(&f, "longs")->dtype == VS_ST_I64);

    float out[6];
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "blocks.0.w"), out) == 0);
    for (int i = 0; i < 6; i++) CHECK(out[i] == a[i]);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, names[1]), out) == 0);
    for (int i = 0; i < 4; i++) CHECK(out[i] == bf_src[i]);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "h"), out) == 0);
    for (int i = 0; i < 3; i++) CHECK(out[i] == h_src[i]);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "ints"), out) == 0);
    CHECK(out[1] == -1.0f && out[2] == 2147483648.0f && out[4] == 42.0f);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "longs"), out) == 0);
    CHECK(out[0] == -5.0f && out[1] == 1099511627776.0f);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "scalar"), out) == 0);
    CHECK(out[0] == 2.25f && vs_st_find(&f, "scalar")->ndim == 0);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "empty"), out) == 0);
    vs_st_close(&f);
    CHECK(f.map == NULL && f.entries == NULL);

    // Bad writer input.
    const char *dup[] = {"x", "x"};
    vs_tensor two[] = {t[0], t[0]};
    CHECK(vs_st_write(p, 2, dup, two, 0, NULL, NULL) == -1 && strstr(vs_last_error(), "used twice"));
    const char *meta[] = {"__metadata__"};
    CHECK(vs_st_write(p, 1, meta, t, 0, NULL, NULL) == -1 && strstr(vs_last_error(), "reserved"));
    CHECK(vs_st_write("/nonexistent-dir/x.safetensors", 1, names, t, 0, NULL, NULL) == -1 &&
          strstr(vs_last_error(), "cannot create"));
    // No tensors at all is a valid file.
    CHECK(vs_st_write(p, 0, NULL, NULL, 0, NULL, NULL) == 0);
    CHECK(vs_st_open(&f, p) == 0 && f.n_entries == 0);
    vs_st_close(&f);
}

// Every dtype, written by hand; F32 at an odd offset checks unaligned reads (UBSan would object).
static void test_every_dtype(void) {
    uint8_t data[256];
    size_t at = 0;
    char header[2048] = "{";
    size_t hl = 1;
#define ADD(name, dtype, n, bytes)                                                             \
    do {                                                                                       \
        hl += (size_t)snprintf(header + hl, sizeof header - hl,                                \
                               "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}", \
                               hl > 1 ? "," : "", name, dtype, n, at, at + sizeof(bytes));     \
        memcpy(data + at, bytes, sizeof(bytes));                                               \
        at += sizeof(bytes);                                                                   \
    } while (0)
    uint8_t u8[3] = {0, 200, 255};
    int8_t i8[3] = {-128, -1, 127};
    uint8_t bo[2] = {0, 1};
    float f32[2] = {-1.5f, 3e7f};
    double f64[2] = {0.125, -1e10};
    int16_t i16[2] = {-32768, 123};
    uint16_t u16[2] = {65535, 7};
    uint32_t u32[2] = {4000000000u, 9};
    uint64_t u64[1] = {1ull << 60};
    uint8_t e4m3[5] = {0x38, 0xB8, 0x7E, 0x01, 0x7F};  // 1, -1, 448, 2^-9, NaN
    uint8_t e5m2[4] = {0x3C, 0xC0, 0x7C, 0x01};        // 1, -2, inf, 2^-16
    ADD("u8", "U8", 3, u8);
    ADD("f32_odd", "F32", 2, f32);  // begins at byte 3
    ADD("i8", "I8", 3, i8);
    ADD("bool", "BOOL", 2, bo);
    ADD("f64", "F64", 2, f64);
    ADD("i16", "I16", 2, i16);
    ADD("u16", "U16", 2, u16);
    ADD("u32", "U32", 2, u32);
    ADD("u64", "U64", 1, u64);
    ADD("e4m3", "F8_E4M3", 5, e4m3);
    ADD("e5m2", "F8_E5M2", 4, e5m2);
#undef ADD
    snprintf(header + hl, sizeof header - hl, "}   ");
    const char *p = tmp_path("dtypes.safetensors");
    write_raw(p, header, data, at);
    vs_st_file f;
    CHECK_MSG(vs_st_open(&f, p) == 0, "%s", vs_last_error());
    float o[8];
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "u8"), o) == 0 && o[1] == 200 && o[2] == 255);
    CHECK(vs_st_find(&f, "f32_odd")->begin == 3);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "f32_odd"), o) == 0 && o[0] == -1.5f && o[1] == 3e7f);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "i8"), o) == 0 && o[0] == -128 && o[2] == 127);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "bool"), o) == 0 && o[0] == 0 && o[1] == 1);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "f64"), o) == 0 && o[0] == 0.125f && o[1] == -1e10f);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "i16"), o) == 0 && o[0] == -32768 && o[1] == 123);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "u16"), o) == 0 && o[0] == 65535 && o[1] == 7);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "u32"), o) == 0 && o[0] == 4e9f && o[1] == 9);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "u64"), o) == 0 && o[0] == 1152921504606846976.0f);
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "e4m3"), o) == 0);
    CHECK(o[0] == 1 && o[1] == -1 && o[2] == 448 && o[3] == 0x1p-9f && isnan(o[4]));
    CHECK(vs_st_read_f32(&f, vs_st_find(&f, "e5m2"), o) == 0);
    CHECK(o[0] == 1 && o[1] == -2 && isinf(o[2]) && o[2] > 0 && o[3] == 0x1p-16f);
    for (int d = 0; d < VS_ST_DTYPE_COUNT; d++) CHECK(vs_st_dtype_size((vs_st_dtype)d) > 0);
    // Entries stay in header order.
    CHECK(f.n_entries == 11 && !strcmp(f.entries[0].name, "u8") && !strcmp(f.entries[1].name, "f32_odd") &&
          !strcmp(f.entries[10].name, "e5m2"));
    // An entry of another file is refused rather than read out of bounds.
    vs_st_entry foreign = f.entries[0];
    CHECK(vs_st_read_f32(&f, &foreign, o) == -1 && strstr(vs_last_error(), "another file"));
    vs_st_close(&f);
}

static void test_corrupt_files(void) {
    uint8_t zeros[64] = {0};
    const char *p = tmp_path("c.safetensors");

    EXPECT_OPEN_FAILS(tmp_path("does-not-exist.safetensors"), "cannot open");
    EXPECT_OPEN_FAILS(g_dir, "not a regular file");

    FILE *fp = fopen(p, "wb");
    fwrite("\x10\0\0\0", 1, 4, fp);
    fclose(fp);
    EXPECT_OPEN_FAILS(p, "truncated");

    // Header length past the end, and over the 100 MB cap.
    uint8_t hdr[16] = {0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    fp = fopen(p, "wb");
    fwrite(hdr, 1, 10, fp);
    fclose(fp);
    EXPECT_OPEN_FAILS(p, "runs past the end");
    uint8_t big[8] = {0, 0, 0, 0, 1, 0, 0, 0};  // 2^32
    fp = fopen(p, "wb");
    fwrite(big, 1, 8, fp);
    fclose(fp);
    EXPECT_OPEN_FAILS(p, "over the 100 MB limit");

    write_raw(p, "{\"a\": ", NULL, 0);
    EXPECT_OPEN_FAILS(p, "not valid JSON");
    write_raw(p, "[1, 2]", NULL, 0);
    EXPECT_OPEN_FAILS(p, "not a JSON object");
    write_raw(p, "        ", NULL, 0);
    EXPECT_OPEN_FAILS(p, "not a JSON object");
    write_raw(p, "{} trailing", NULL, 0);
    EXPECT_OPEN_FAILS(p, "after the JSON object");
    write_raw(p, "{\"__metadata__\":{\"k\":1}}", NULL, 0);
    EXPECT_OPEN_FAILS(p, "__metadata__ key 'k' is a number");
    write_raw(p, "{\"__metadata__\":[]}", NULL, 0);
    EXPECT_OPEN_FAILS(p, "__metadata__ is an array");
    write_raw(p, "{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0);
    EXPECT_OPEN_FAILS(p, "appears twice");

    // Entries.
    expect_entry_fails("5", 0, "tensor 't': entry is a number");
    expect_entry_fails("{\"shape\":[1],\"data_offsets\":[0,4]}", 4, "'dtype' is missing");
    expect_entry_fails("{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}", 4, "'dtype' is a number");
    expect_entry_fails("{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "unknown dtype \"F17\"");
    expect_entry_fails("{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}", 8, "C64 is valid safetensors but not supported");
    expect_entry_fails("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", 4, "'shape' is missing");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}", 4, "'shape' is a number");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}", 4, "shape[0] is not a non-negative integer");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}", 4, "shape[1] is not a non-negative integer");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}", 4, "shape[0] is not a non-negative integer");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1e18],\"data_offsets\":[0,4]}", 4, "shape[0] is not a non-negative integer below 2^53");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1000000000000000,1000000000000000,0],\"data_offsets\":[0,0]}", 0, "overflows 64 bits at shape[1]");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}", 4, "overflows");
    expect_entry_fails("{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}", 4, "not a non-negative integer below 2^53");
    expect_entry_fails("{\"dtype\":\"F64\",\"shape\":[4096,4096,4096,4096,4096],\"data_offsets\":[0,4]}", 4, "overflow 64-bit byte counts");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}", 4, "7 dimensions");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1]}", 4, "'data_offsets' is missing");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}", 4, "wrong length");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0-4\"}", 4, "'data_offsets' is a string");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}", 4, "non-negative integers");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4.5]}", 4, "non-negative integers");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}", 4, "below 2^53");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9007199254740993,9007199254740997]}", 4, "below 2^53");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}", 4, "non-negative integers");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}", 4, "before begin");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}", 4, "past the data section");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4294967296,4294967300]}", 4, "past the data section");
    expect_entry_fails("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}", 8, "holds 4 bytes but shape [2] of F32 needs 8");
    expect_entry_fails("{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}", 16, "needs 8");

    // Overlap and duplicates across entries.
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", zeros, 12);
    EXPECT_OPEN_FAILS(p, "tensor 'b' bytes [4, 12) overlap tensor 'a'");
    write_raw(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]},"
                 "\"c\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[16,16]}}", zeros, 16);
    EXPECT_OPEN_FAILS(p, "tensor 'b' bytes [10, 12) overlap tensor 'a'");
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", zeros, 8);
    EXPECT_OPEN_FAILS(p, "tensor 'a' appears twice");

    // A valid file cut short: the last tensor's end is past the data section.
    float v[8] = {0};
    int64_t s8[] = {8};
    vs_tensor t = vs_tensor_view(v, VS_F32, VS_DEV_CPU, 1, s8);
    const char *n1[] = {"w"};
    CHECK(vs_st_write(p, 1, n1, &t, 0, NULL, NULL) == 0);
    struct stat st;
    stat(p, &st);
    CHECK(truncate(p, st.st_size - 5) == 0);
    EXPECT_OPEN_FAILS(p, "tensor 'w': data_offsets end 32 is past the data section (27 bytes)");

    // Holes, zero-size tensors sharing offsets and 0-D tensors are fine.
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                 "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
                 "\"y\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[12,12]},"
                 "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[16,24]}}", zeros, 32);
    vs_st_file f;
    CHECK_MSG(vs_st_open(&f, p) == 0, "%s", vs_last_error());
    CHECK(f.n_entries == 4 && vs_st_numel(vs_st_find(&f, "s")) == 1 &&
          vs_st_numel(vs_st_find(&f, "z")) == 0);
    vs_st_close(&f);
}

// Offsets past 2^31 and 2^32 in a sparse file: the reader must land on the right bytes.
static void test_offsets_past_4gib(void) {
    const uint64_t mid = (1ull << 31) + 8, far = (1ull << 32) + 64;
    char header[1024];
    snprintf(header, sizeof header,
             "{\"pad\":{\"dtype\":\"U8\",\"shape\":[%llu],\"data_offsets\":[0,%llu]},"
             "\"mid\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%llu,%llu]},"
             "\"far\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[%llu,%llu]}}",
             (unsigned long long)mid, (unsigned long long)mid, (unsigned long long)mid,
             (unsigned long long)(mid + 8), (unsigned long long)far, (unsigned long long)(far + 8));
    while (strlen(header) % 8) strcat(header, " ");
    const char *p = tmp_path("sparse.safetensors");
    write_raw(p, header, NULL, 0);
    uint64_t data_start = 8 + strlen(header);
    int fd = open(p, O_WRONLY);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(ftruncate(fd, (off_t)(data_start + far + 8)) == 0);
    float mv[2] = {123.5f, -7.25f};
    vs_bf16 fv[4] = {vs_f32_to_bf16(1.0f), vs_f32_to_bf16(-2.0f), vs_f32_to_bf16(0.5f),
                     vs_f32_to_bf16(96.0f)};
    CHECK(pwrite(fd, mv, sizeof mv, (off_t)(data_start + mid)) == (ssize_t)sizeof mv);
    CHECK(pwrite(fd, fv, sizeof fv, (off_t)(data_start + far)) == (ssize_t)sizeof fv);
    close(fd);

    vs_st_file f;
    CHECK_MSG(vs_st_open(&f, p) == 0, "%s", vs_last_error());
    const vs_st_entry *m = vs_st_find(&f, "mid"), *fa = vs_st_find(&f, "far");
    CHECK(m && fa && m->begin == mid && fa->begin == far && fa->end == far + 8);
    CHECK(vs_st_numel(vs_st_find(&f, "pad")) == (int64_t)mid);
    float o[4] = {0};
    CHECK(m && vs_st_read_f32(&f, m, o) == 0 && o[0] == 123.5f && o[1] == -7.25f);
    CHECK(fa && vs_st_read_f32(&f, fa, o) == 0 && o[0] == 1 && o[1] == -2 && o[2] == 0.5f &&
          o[3] == 96);
    vs_st_close(&f);
    unlink(p);  // 4 GiB of holes: do not leave it behind even if later tests crash
}

static void write_f32(const char *path, int n, const char *const *names, float value) {
    float v[4] = {value, value + 1, value + 2, value + 3};
    int64_t shape[] = {4};
    vs_tensor t[8];
    for (int i = 0; i < n; i++) t[i] = vs_tensor_view(v, VS_F32, VS_DEV_CPU, 1, shape);
    VS_TRY(vs_st_write(path, n, names, t, 0, NULL, NULL), "test fixture");
}

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    VS_ASSERT(fp, "cannot create a test file");
    fputs(text, fp);
    fclose(fp);
}

#define EXPECT_CKPT_FAILS(path, what)                                                        \
    do {                                                                                     \
        vs_checkpoint c_;                                                                    \
        int rc_ = vs_checkpoint_open(&c_, (path));                                           \
        CHECK_MSG(rc_ == -1, "%s opened but should fail with '%s'", (path), (what));         \
        CHECK_MSG(strstr(vs_last_error(), (what)) != NULL, "error '%s' lacks '%s'",          \
                  vs_last_error(), (what));                                                  \
        if (rc_ == 0) vs_checkpoint_close(&c_);                                              \
    } while (0)

static void test_checkpoints(void) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/sharded", g_dir);
    CHECK(mkdir(dir, 0700) == 0);
    char p1[300], p2[300], idx[300];
    snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    const char *n1[] = {"a", "b"}, *n2[] = {"c"};
    write_f32(p1, 2, n1, 10);
    write_f32(p2, 1, n2, 20);
    write_text(idx, "{\"metadata\":{\"total_size\":48},\"weight_map\":{"
                    "\"a\":\"model-00001-of-00002.safetensors\","
                    "\"c\":\"model-00002-of-00002.safetensors\","
                    "\"b\":\"model-00001-of-00002.safetensors\"}}");
    vs_checkpoint c;
    const char *paths[] = {idx, dir};  // by index file, and by directory
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(vs_checkpoint_open(&c, paths[k]) == 0, "%s", vs_last_error());
        CHECK(c.n_files == 2);
        const vs_st_file *sf = NULL;
        const vs_st_entry *e = vs_checkpoint_find(&c, "c", &sf);
        float o[4];
        CHECK(e && sf && strstr(sf->path, "00002") && vs_st_read_f32(sf, e, o) == 0 && o[3] == 23);
        e = vs_checkpoint_find(&c, "b", &sf);
        CHECK(e && sf && vs_st_read_f32(sf, e, o) == 0 && o[0] == 10);
        CHECK(vs_checkpoint_find(&c, "d", NULL) == NULL);
        vs_checkpoint_close(&c);
        CHECK(c.files == NULL && c.n_files == 0);
    }

    // A single file, and a directory holding one diffusers-named file.
    char d2[256], single[300];
    snprintf(d2, sizeof d2, "%s/single", g_dir);
    CHECK(mkdir(d2, 0700) == 0);
    snprintf(single, sizeof single, "%s/diffusion_pytorch_model.safetensors", d2);
    write_f32(single, 2, n1, 1);
    CHECK(vs_checkpoint_open(&c, single) == 0 && c.n_files == 1 && vs_checkpoint_find(&c, "a", NULL));
    vs_checkpoint_close(&c);
    CHECK(vs_checkpoint_open(&c, d2) == 0 && c.n_files == 1 && vs_checkpoint_find(&c, "b", NULL));
    vs_checkpoint_close(&c);

    // Broken checkpoints.
    EXPECT_CKPT_FAILS(tmp_path("missing-dir"), "cannot open checkpoint");
    char d3[256];
    snprintf(d3, sizeof d3, "%s/empty", g_dir);
    CHECK(mkdir(d3, 0700) == 0);
    EXPECT_CKPT_FAILS(d3, "holds none of");
    char second[300];
    snprintf(second, sizeof second, "%s/model.safetensors", d2);
    write_f32(second, 1, n2, 0);
    EXPECT_CKPT_FAILS(d2, "holds several checkpoints");

    const char *bad = tmp_path("bad.safetensors.index.json");
    write_text(bad, "{\"weight_map\":{\"a\":\"sharded/model-00001-of-00002.safetensors\","
                    "\"x\":\"sharded/model-00009-of-00009.safetensors\"}}");
    EXPECT_CKPT_FAILS(bad, "model-00009-of-00009.safetensors: cannot open");
    write_text(bad, "{\"weight_map\":{\"a\":\"sharded/model-00001-of-00002.safetensors\","
                    "\"c\":\"sharded/model-00001-of-00002.safetensors\"}}");
    EXPECT_CKPT_FAILS(bad, "puts tensor 'c' in");
    write_text(bad, "{\"weight_map\":{\"a\":\"single/diffusion_pytorch_model.safetensors\","
                    "\"b\":\"sharded/model-00001-of-00002.safetensors\"}}");
    EXPECT_CKPT_FAILS(bad, "in two shards");
    write_text(bad, "{\"weight_map\":{\"a\":3}}");
    EXPECT_CKPT_FAILS(bad, "entry for tensor 'a' is not a file name");
    write_text(bad, "{\"weight_map\":{\"a\":\"../etc/passwd\"}}");
    EXPECT_CKPT_FAILS(bad, "outside the index's folder");
    write_text(bad, "{\"weight_map\":{\"a\":\"sharded/../../x.safetensors\"}}");
    EXPECT_CKPT_FAILS(bad, "outside the index's folder");
    write_text(bad, "{\"weight_map\":{\"a\":\"/abs/x.safetensors\"}}");
    EXPECT_CKPT_FAILS(bad, "outside the index's folder");
    write_text(bad, "{\"weight_map\":{\"a\":\"no..such.safetensors\"}}");  // ".." inside a name is fine
    EXPECT_CKPT_FAILS(bad, "no..such.safetensors: cannot open");
    write_text(bad, "{\"weight_map\":{}}");
    EXPECT_CKPT_FAILS(bad, "is empty");
    write_text(bad, "{\"metadata\":{}}");
    EXPECT_CKPT_FAILS(bad, "no \"weight_map\"");
    write_text(bad, "{\"weight_map\":");
    EXPECT_CKPT_FAILS(bad, "not valid JSON");
    // A corrupt shard names both the shard and the index.
    write_raw(tmp_path("sharded/model-00002-of-00002.safetensors"), "{\"c\":7}", NULL, 0);
    EXPECT_CKPT_FAILS(idx, "model-00002-of-00002.safetensors: tensor 'c': entry is a number");
    EXPECT_CKPT_FAILS(idx, "a shard named by");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/vs_test_st_XXXXXX");
    VS_ASSERT(mkdtemp(g_dir), "cannot create a temporary folder in /tmp");
    RUN_TEST(test_roundtrip_writer);
    RUN_TEST(test_every_dtype);
    RUN_TEST(test_corrupt_files);
    RUN_TEST(test_offsets_past_4gib);
    RUN_TEST(test_checkpoints);
    nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return vs_test_finish();
}
