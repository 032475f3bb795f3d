// Model configs in both naming schemes (official Wan, diffusers) and SVG2 presets: the files in
// configs/ load with the documented values, and every malformed or out-of-range input fails
// with -1 and a message naming the file and the field.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/vs_config.h"
#include "runtime/vs_check.h"
#include "tests/vs_test.h"

static char g_path[64];

static const char *write_json(const char *text) {
    FILE *fp = fopen(g_path, "w");
    VS_ASSERT(fp, "cannot create a test file in /tmp");
    fputs(text, fp);
    fclose(fp);
    return g_path;
}

static const char *source_file(const char *rel) {
    static char buf[1024];
    const char *root = getenv("VS_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "..", rel);
    return buf;
}

#define EXPECT_MODEL_FAILS(json, what)                                                       \
    do {                                                                                     \
        vs_wan_config c_;                                                                    \
        int rc_ = vs_wan_config_load(&c_, write_json(json));                                 \
        CHECK_MSG(rc_ == -1 && strstr(vs_last_error(), (what)) &&                            \
                      strstr(vs_last_error(), g_path),                                       \
                  "rc %d, error '%s', wanted '%s'", rc_, vs_last_error(), (what));           \
    } while (0)

#define EXPECT_PRESET_FAILS(json, what)                                                      \
    do {                                                                                     \
        vs_svg2_preset p_;                                                                   \
        int rc_ = vs_svg2_preset_load(&p_, write_json(json));                                \
        CHECK_MSG(rc_ == -1 && strstr(vs_last_error(), (what)) &&                            \
                      strstr(vs_last_error(), g_path),                                       \
                  "rc %d, error '%s', wanted '%s'", rc_, vs_last_error(), (what));           \
    } while (0)

static void check_t2v_1_3b(const vs_wan_config *c) {
    CHECK(!strcmp(c->model_type, "t2v"));
    CHECK(c->dim == 1536 && c->ffn_dim == 8960 && c->freq_dim == 256 && c->num_heads == 12);
    CHECK(c->num_layers == 30 && c->in_dim == 16 && c->out_dim == 16 && c->text_len == 512);
    CHECK(c->text_dim == 4096 && c->eps == 1e-6f);
    CHECK(c->patch[0] == 1 && c->patch[1] == 2 && c->patch[2] == 2);
    CHECK(c->qk_norm == 1 && c->cross_attn_norm == 1);
}

static void test_defaults(void) {
    vs_wan_config c;
    vs_wan_config_defaults(&c);
    CHECK(!strcmp(c.model_type, "t2v") && c.freq_dim == 256 && c.text_len == 512);
    CHECK(c.text_dim == 4096 && c.eps == 1e-6f && c.qk_norm == 1 && c.cross_attn_norm == 1);
    CHECK(c.patch[0] == 1 && c.patch[1] == 2 && c.patch[2] == 2);
    CHECK(vs_wan_config_check(&c) == -1 && strstr(vs_last_error(), "dim is 0"));
    c.dim = 1536, c.ffn_dim = 8960, c.num_heads = 12, c.num_layers = 30, c.in_dim = 16, c.out_dim = 16;
    CHECK_MSG(vs_wan_config_check(&c) == 0, "%s", vs_last_error());
    c.num_heads = 7;
    CHECK(vs_wan_config_check(&c) == -1 && strstr(vs_last_error(), "num_heads 7 does not divide dim 1536"));
}

static void test_official_and_ours(void) {
    // Wan-AI/Wan2.1-T2V-1.3B config.json as downloaded: the loader supplies the omitted fields.
    vs_wan_config c;
    CHECK_MSG(vs_wan_config_load(&c, write_json(
        "{\n  \"_class_name\": \"WanModel\",\n  \"_diffusers_version\": \"0.30.0\",\n"
        "  \"dim\": 1536,\n  \"eps\": 1e-06,\n  \"ffn_dim\": 8960,\n  \"freq_dim\": 256,\n"
        "  \"in_dim\": 16,\n  \"model_type\": \"t2v\",\n  \"num_heads\": 12,\n"
        "  \"num_layers\": 30,\n  \"out_dim\": 16,\n  \"text_len\": 512\n}\n")) == 0,
        "%s", vs_last_error());
    check_t2v_1_3b(&c);

    CHECK_MSG(vs_wan_config_load(&c, source_file("configs/wan2.1-t2v-1.3b.json")) == 0, "%s",
              vs_last_error());
    check_t2v_1_3b(&c);
    CHECK_MSG(vs_wan_config_load(&c, source_file("configs/wan2.1-t2v-14b.json")) == 0, "%s",
              vs_last_error());
    CHECK(c.dim == 5120 && c.ffn_dim == 13824 && c.num_heads == 40 && c.num_layers == 40);
    CHECK(c.dim / c.num_heads == 128 && c.in_dim == 16 && c.text_dim == 4096 && c.qk_norm == 1);

    // Official names for the tiny parity model, with the fields the class drops spelled out.
    CHECK(vs_wan_config_load(&c, write_json(
        "{\"model_type\":\"t2v\",\"dim\":24,\"num_heads\":2,\"ffn_dim\":32,\"num_layers\":2,"
        "\"in_dim\":16,\"out_dim\":16,\"text_dim\":16,\"text_len\":512,\"freq_dim\":256,"
        "\"qk_norm\":false,\"cross_attn_norm\":false,\"patch_size\":[1,2,2]}")) == 0);
    CHECK(c.dim == 24 && c.text_dim == 16 && c.qk_norm == 0 && c.cross_attn_norm == 0);
}

static void test_diffusers(void) {
    // Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json.
    vs_wan_config c;
    CHECK_MSG(vs_wan_config_load(&c, write_json(
        "{\"_class_name\":\"WanTransformer3DModel\",\"_diffusers_version\":\"0.33.0.dev0\","
        "\"added_kv_proj_dim\":null,\"attention_head_dim\":128,\"cross_attn_norm\":true,"
        "\"eps\":1e-06,\"ffn_dim\":8960,\"freq_dim\":256,\"image_dim\":null,\"in_channels\":16,"
        "\"num_attention_heads\":12,\"num_layers\":30,\"out_channels\":16,"
        "\"patch_size\":[1,2,2],\"pos_embed_seq_len\":null,\"qk_norm\":\"rms_norm_across_heads\","
        "\"rope_max_seq_len\":1024,\"text_dim\":4096}")) == 0, "%s", vs_last_error());
    check_t2v_1_3b(&c);

    // The diffusers unit-test model: D = 2 x 12 = 24, head_dim 12 (RoPE split 4/4/4).
    CHECK(vs_wan_config_load(&c, write_json(
        "{\"patch_size\":[1,2,2],\"num_attention_heads\":2,\"attention_head_dim\":12,"
        "\"in_channels\":4,\"out_channels\":4,\"text_dim\":16,\"freq_dim\":256,\"ffn_dim\":32,"
        "\"num_layers\":2,\"cross_attn_norm\":true,\"qk_norm\":\"rms_norm_across_heads\","
        "\"rope_max_seq_len\":32}")) == 0);
    CHECK(c.dim == 24 && c.num_heads == 2 && c.in_dim == 4 && c.out_dim == 4 && c.text_dim == 16);
    CHECK(c.text_len == 512 && c.qk_norm == 1);

    // I2V-14B diffusers: image_dim marks image-to-video.
    CHECK(vs_wan_config_load(&c, write_json(
        "{\"_class_name\":\"WanTransformer3DModel\",\"attention_head_dim\":128,"
        "\"num_attention_heads\":40,\"in_channels\":36,\"out_channels\":16,\"ffn_dim\":13824,"
        "\"num_layers\":40,\"image_dim\":1280,\"added_kv_proj_dim\":5120,\"qk_norm\":null}")) == 0);
    CHECK(!strcmp(c.model_type, "i2v") && c.dim == 5120 && c.in_dim == 36 && c.qk_norm == 0);
}

static void test_bad_model_configs(void) {
    vs_wan_config c;
    CHECK(vs_wan_config_load(&c, "/nonexistent/config.json") == -1 &&
          strstr(vs_last_error(), "cannot open"));
    EXPECT_MODEL_FAILS("{\n\"dim\": 1536,\n\"ffn_dim\" 8960\n}", "not valid JSON (error at line 3)");
    EXPECT_MODEL_FAILS("", "not valid JSON");
    EXPECT_MODEL_FAILS("[1536]", "is an array, expected a JSON object");
    const char *base_tail = "\"ffn_dim\":8960,\"num_layers\":30,\"in_dim\":16,\"out_dim\":16}";
    char json[1024];
#define WITH(prefix) (snprintf(json, sizeof json, "{%s,%s", prefix, base_tail), json)
    // Missing fields.
    EXPECT_MODEL_FAILS(WITH("\"num_heads\":12"), "missing field 'dim'");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536"), "missing field 'num_heads'");
    EXPECT_MODEL_FAILS("{\"dim\":1536,\"num_heads\":12,\"num_layers\":30,\"in_dim\":16,\"out_dim\":16}",
                       "missing field 'ffn_dim'");
    EXPECT_MODEL_FAILS("{\"dim\":1536,\"num_heads\":12,\"ffn_dim\":8960,\"in_dim\":16,\"out_dim\":16}",
                       "missing field 'num_layers'");
    EXPECT_MODEL_FAILS("{\"dim\":1536,\"num_heads\":12,\"ffn_dim\":8960,\"num_layers\":30,\"out_dim\":16}",
                       "missing field 'in_dim'");
    EXPECT_MODEL_FAILS("{\"dim\":1536,\"num_heads\":12,\"ffn_dim\":8960,\"num_layers\":30,\"in_dim\":16}",
                       "missing field 'out_dim'");
    EXPECT_MODEL_FAILS(WITH("\"attention_head_dim\":128"), "attention_head_dim is given without");
    // Wrong types.
    EXPECT_MODEL_FAILS(WITH("\"dim\":\"1536\",\"num_heads\":12"), "field 'dim' must be an integer, got a string");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536.5,\"num_heads\":12"), "field 'dim' must be an integer");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1e12,\"num_heads\":12"), "field 'dim' must be an integer");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":[12]"), "field 'num_heads' must be an integer, got an array");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"eps\":\"1e-6\""), "field 'eps' must be a finite number");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"eps\":1e300"), "field 'eps' must be a finite number");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"model_type\":7"), "field 'model_type' must be a string");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"model_type\":\"a-very-long-model-type\""), "too long");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"cross_attn_norm\":1"), "field 'cross_attn_norm' must be true or false");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"qk_norm\":\"rms_norm\""), "rms_norm_across_heads");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"qk_norm\":3"), "field 'qk_norm' must be a boolean or a string");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"patch_size\":[1,2]"), "'patch_size' must be an array of 3");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"patch_size\":[1,0,2]"), "'patch_size[1]'");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"window_size\":[256,256]"), "window_size");
    EXPECT_MODEL_FAILS(WITH("\"_class_name\":\"AutoencoderKLWan\",\"dim\":1536,\"num_heads\":12"), "not a Wan DiT config");
    // Values that parse but make no model.
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":7"), "num_heads 7 does not divide dim 1536");
    EXPECT_MODEL_FAILS(WITH("\"dim\":24,\"num_heads\":6"), "head_dim = dim / num_heads = 4 must be even and >= 6");
    EXPECT_MODEL_FAILS(WITH("\"dim\":30,\"num_heads\":2"), "head_dim = dim / num_heads = 15");
    EXPECT_MODEL_FAILS(WITH("\"dim\":-1536,\"num_heads\":12"), "dim is -1536");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":0"), "num_heads is 0");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"text_len\":0"), "text_len is 0");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"freq_dim\":255"), "freq_dim 255 must be even");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"eps\":0"), "eps 0 must be in (0, 1)");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"model_type\":\"x2v\""), "model_type 'x2v'");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1000000000,\"num_heads\":12"), "dim is 1000000000, must be in [1, 65536]");
    // The two schemes disagreeing.
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_attention_heads\":12,\"attention_head_dim\":64"),
                       "dim 1536 disagrees with num_attention_heads x attention_head_dim 768");
    EXPECT_MODEL_FAILS(WITH("\"dim\":1536,\"num_heads\":12,\"num_attention_heads\":16"),
                       "num_heads 12 disagrees with num_attention_heads 16");
    EXPECT_MODEL_FAILS(WITH("\"num_attention_heads\":1000,\"attention_head_dim\":2147484"),
                       "is not a valid width");
#undef WITH
}

static void test_presets(void) {
    vs_svg2_preset p;
    CHECK_MSG(vs_svg2_preset_load(&p, source_file("configs/svg2-wan-720p.json")) == 0, "%s",
              vs_last_error());
    CHECK(p.params.C_q == 300 && p.params.C_k == 1000 && p.params.top_p == 0.9f);
    CHECK(p.params.min_kc_ratio == 0.1f && p.params.iters_cold == 50 && p.params.iters_warm == 2);
    CHECK(p.params.tol == 1e-4f && p.params.seed == 0 && p.dense_step_fraction == 0.2f &&
          p.dense_layers == 1);
    CHECK_MSG(vs_svg2_preset_load(&p, source_file("configs/svg2-wan-480p.json")) == 0, "%s",
              vs_last_error());
    CHECK(p.params.C_q == 200 && p.params.C_k == 1000 && p.params.top_p == 0.9f);

    // Missing fields take the defaults; given ones override them.
    vs_svg2_params d = vs_svg2_default_params();
    CHECK(vs_svg2_preset_load(&p, write_json("{}")) == 0);
    CHECK(p.params.C_q == d.C_q && p.params.C_k == d.C_k && p.params.top_p == d.top_p &&
          p.params.iters_cold == d.iters_cold && p.params.tol == d.tol &&
          p.dense_step_fraction == 0.2f && p.dense_layers == 1);
    CHECK(vs_svg2_preset_load(&p, write_json(
        "{\"_note\":\"x\",\"C_q\":10,\"top_p\":1,\"seed\":123456789012,\"dense_layers\":0,"
        "\"kmeans_iters_warm\":0,\"kmeans_tol\":0,\"dense_step_fraction\":0}")) == 0);
    CHECK(p.params.C_q == 10 && p.params.C_k == d.C_k && p.params.top_p == 1.0f &&
          p.params.seed == 123456789012ull && p.dense_layers == 0 && p.params.iters_warm == 0);

    EXPECT_PRESET_FAILS("{\"top_p\":0}", "top_p is 0, must be in (0, 1]");
    EXPECT_PRESET_FAILS("{\"top_p\":-0.5}", "top_p is -0.5");
    EXPECT_PRESET_FAILS("{\"top_p\":1.5}", "top_p is 1.5");
    EXPECT_PRESET_FAILS("{\"C_q\":0}", "C_q is 0, must be >= 1");
    EXPECT_PRESET_FAILS("{\"C_k\":-3}", "C_k is -3, must be >= 1");
    EXPECT_PRESET_FAILS("{\"min_kc_ratio\":1.5}", "min_kc_ratio is 1.5");
    EXPECT_PRESET_FAILS("{\"kmeans_iters_cold\":0}", "kmeans_iters_cold is 0");
    EXPECT_PRESET_FAILS("{\"kmeans_iters_warm\":-1}", "kmeans_iters_warm is -1");
    EXPECT_PRESET_FAILS("{\"kmeans_tol\":-1e-4}", "kmeans_tol is");
    EXPECT_PRESET_FAILS("{\"dense_step_fraction\":1.2}", "dense_step_fraction is 1.2");
    EXPECT_PRESET_FAILS("{\"dense_layers\":-1}", "dense_layers is -1");
    EXPECT_PRESET_FAILS("{\"seed\":-1}", "field 'seed' must be an integer");
    EXPECT_PRESET_FAILS("{\"seed\":0.5}", "field 'seed' must be an integer");
    EXPECT_PRESET_FAILS("{\"C_q\":\"300\"}", "field 'C_q' must be an integer, got a string");
    EXPECT_PRESET_FAILS("{\"C_q\":300.5}", "field 'C_q' must be an integer");
    EXPECT_PRESET_FAILS("{\"top_p\":true}", "field 'top_p' must be a finite number, got a boolean");
    EXPECT_PRESET_FAILS("{\"top_p\":1e999}", "field 'top_p' must be a finite number");
    EXPECT_PRESET_FAILS("{\"topp\":0.9}", "unknown field 'topp'");
    EXPECT_PRESET_FAILS("{\"C_q\":300,}", "not valid JSON");
    EXPECT_PRESET_FAILS("\"C_q\"", "is a string, expected a JSON object");
}

int main(void) {
    snprintf(g_path, sizeof g_path, "/tmp/vs_test_config_XXXXXX");
    int fd = mkstemp(g_path);
    VS_ASSERT(fd >= 0, "cannot create a temporary file in /tmp");
    close(fd);
    RUN_TEST(test_defaults);
    RUN_TEST(test_official_and_ours);
    RUN_TEST(test_diffusers);
    RUN_TEST(test_bad_model_configs);
    RUN_TEST(test_presets);
    unlink(g_path);
    return vs_test_finish();
}
