// Multi-file checkpoints: one .safetensors file, a *.safetensors.index.json whose weight_map names
// each tensor's shard, or a directory holding one of those under the Hugging Face names.
//
// Everything is checked at open, so a broken download fails before any long work: every shard the
// index names exists and is valid, every tensor the index maps is in its shard, and no tensor
// name appears in two shards (vs_checkpoint_find then needs no weight_map at all).
#include "runtime/vs_safetensors.h"
#include "runtime/vs_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_MAX_BYTES (64u << 20)

void vs_checkpoint_close(vs_checkpoint *c) {
    if (!c) return;
    for (int i = 0; i < c->n_files; i++) vs_st_close(&c->files[i]);
    free(c->files);
    c->files = NULL;
    c->n_files = 0;
}

const vs_st_entry *vs_checkpoint_find(const vs_checkpoint *c, const char *name,
                                      const vs_st_file **file) {
    for (int i = 0; i < c->n_files; i++) {
        const vs_st_entry *e = vs_st_find(&c->files[i], name);
        if (e) {
            if (file) *file = &c->files[i];
            return e;
        }
    }
    return NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

// dir + "/" + name, or name alone when dir is empty.
static char *join_path(const char *dir, size_t dir_len, const char *name) {
    size_t n = strlen(name);
    char *p = vs_malloc(dir_len + n + 2);
    memcpy(p, dir, dir_len);
    size_t at = dir_len;
    if (dir_len && dir[dir_len - 1] != '/') p[at++] = '/';
    memcpy(p + at, name, n + 1);
    return p;
}

// A relative path with no ".." component: the shard stays inside the index's folder.
static int is_local_path(const char *p) {
    if (p[0] == '/') return 0;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') return 0;
        c += n;
        if (*c == '/') c++;
    }
    return 1;
}

// Opens shard `path` into c->files[c->n_files], wrapping its error with the index's name.
static int open_shard(vs_checkpoint *c, const char *path, const char *index) {
    if (vs_st_open(&c->files[c->n_files], path) != 0) {
        char inner[1024];
        snprintf(inner, sizeof inner, "%s", vs_last_error());
        return VS_FAIL("%s (a shard named by %s)", inner, index);
    }
    c->n_files++;
    return 0;
}

static int open_index(vs_checkpoint *c, const char *index) {
    cJSON *root = vs_json_load_object(index, INDEX_MAX_BYTES, "safetensors index");
    if (!root) return -1;
    int rc = 0;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map))
        rc = VS_FAIL("%s: no \"weight_map\" object; not a safetensors index?", index);
    else if (!map->child) rc = VS_FAIL("%s: \"weight_map\" is empty", index);

    // Distinct shard names in first-seen order.
    int n_map = rc ? 0 : cJSON_GetArraySize(map), n_shards = 0;
    const char **shards = vs_calloc((size_t)(n_map ? n_map : 1), sizeof *shards);
    for (const cJSON *kv = rc ? NULL : map->child; kv && rc == 0; kv = kv->next) {
        if (!cJSON_IsString(kv) || !kv->valuestring[0])
            rc = VS_FAIL("%s: weight_map entry for tensor '%.200s' is not a file name", index,
                         kv->string);
        else if (!is_local_path(kv->valuestring))
            rc = VS_FAIL("%s: weight_map names shard '%.200s' outside the index's folder", index,
                         kv->valuestring);
        int seen = 0;
        for (int i = 0; i < n_shards && rc == 0 && !seen; i++) seen = !strcmp(shards[i], kv->valuestring);
        if (rc == 0 && !seen) shards[n_shards++] = kv->valuestring;
    }

    const char *slash = strrchr(index, '/');
    size_t dir_len = slash ? (size_t)(slash - index) + 1 : 0;
    c->files = vs_calloc((size_t)(n_shards ? n_shards : 1), sizeof *c->files);
    for (int i = 0; i < n_shards && rc == 0; i++) {
        char *p = join_path(index, dir_len, shards[i]);
        rc = open_shard(c, p, index);
        free(p);
    }
    for (const cJSON *kv = rc ? NULL : map->child; kv && rc == 0; kv = kv->next) {
        int s = 0;
        while (strcmp(shards[s], kv->valuestring)) s++;
        if (!vs_st_find(&c->files[s], kv->string))
            rc = VS_FAIL("%s: weight_map puts tensor '%.200s' in %s, which does not hold it; the "
                         "shard is from another checkpoint or incomplete", index, kv->string,
                         c->files[s].path);
    }
    free(shards);
    cJSON_Delete(root);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const vs_st_entry *const *)a)->name, (*(const vs_st_entry *const *)b)->name);
}

// No name in two shards: otherwise which one vs_checkpoint_find returns would be arbitrary.
static int check_unique_across_shards(const vs_checkpoint *c) {
    if (c->n_files < 2) return 0;
    size_t total = 0;
    for (int i = 0; i < c->n_files; i++) total += (size_t)c->files[i].n_entries;
    const vs_st_entry **all = vs_malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < c->n_files; i++)
        for (int j = 0; j < c->files[i].n_entries; j++) all[k++] = &c->files[i].entries[j];
    qsort(all, total, sizeof *all, by_name);
    int rc = 0;
    for (size_t i = 1; i < total && rc == 0; i++)
        if (!strcmp(all[i]->name, all[i - 1]->name)) {
            const char *fa = "?", *fb = "?";
            for (int f = 0; f < c->n_files; f++) {
                const vs_st_file *sf = &c->files[f];
                if (all[i] >= sf->entries && all[i] < sf->entries + sf->n_entries) fa = sf->path;
                if (all[i - 1] >= sf->entries && all[i - 1] < sf->entries + sf->n_entries) fb = sf->path;
            }
            rc = VS_FAIL("checkpoint: tensor '%.200s' is in two shards, %s and %s", all[i]->name, fb,
                         fa);
        }
    free(all);
    return rc;
}

static int open_directory(vs_checkpoint *c, const char *dir) {
    static const char *candidates[] = {
        "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors",
        "model.safetensors.index.json", "model.safetensors"};
    char *found = NULL;
    int n_found = 0;
    char names[512] = "";
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char *p = join_path(dir, strlen(dir), candidates[i]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            n_found++;
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     n_found > 1 ? ", " : "", candidates[i]);
            if (!found) {
                found = p;
                continue;
            }
        }
        free(p);
    }
    if (n_found != 1) {
        free(found);
        if (n_found == 0)
            return VS_FAIL("%s: holds none of diffusion_pytorch_model.safetensors[.index.json], "
                           "model.safetensors[.index.json]; for a diffusers repository pass its "
                           "transformer/ folder", dir);
        return VS_FAIL("%s: holds several checkpoints (%s); pass the file to use", dir, names);
    }
    int rc = vs_checkpoint_open(c, found);
    free(found);
    return rc;
}

int vs_checkpoint_open(vs_checkpoint *c, const char *path) {
    memset(c, 0, sizeof *c);
    struct stat st;
    if (stat(path, &st) != 0)
        return VS_FAIL("%s: cannot open checkpoint: %s (check the path)", path, strerror(errno));
    int rc;
    if (S_ISDIR(st.st_mode)) return open_directory(c, path);
    if (ends_with(path, ".json")) {
        rc = open_index(c, path);
    } else {
        c->files = vs_calloc(1, sizeof *c->files);
        rc = vs_st_open(&c->files[0], path);
        if (rc == 0) c->n_files = 1;
    }
    if (rc == 0) rc = check_unique_across_shards(c);
    if (rc != 0) vs_checkpoint_close(c);
    return rc;
}
