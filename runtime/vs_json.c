#include "runtime/vs_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

const char *vs_json_type_name(const cJSON *item) {
    if (!item) return "nothing";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    return "invalid JSON";
}

cJSON *vs_json_load_object(const char *path, size_t max_bytes, const char *what) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        VS_FAIL("%s: cannot open: %s (check the path)", path, strerror(errno));
        return NULL;
    }
    // One byte more than allowed tells "too large" apart from "exactly the cap".
    char *text = vs_malloc(max_bytes + 1);
    size_t n = fread(text, 1, max_bytes + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || n > max_bytes) {
        free(text);
        VS_FAIL("%s: %s", path, bad ? "read error" : "too large; not a JSON file?");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root) {
        int line = 1;
        for (const char *p = text; end && p < end && p < text + n; p++) line += *p == '\n';
        VS_FAIL("%s: not valid JSON (error at line %d); is it a %s file?", path, line, what);
    } else if (!cJSON_IsObject(root)) {
        VS_FAIL("%s: is %s, expected a JSON object (a %s file)", path, vs_json_type_name(root), what);
        cJSON_Delete(root);
        root = NULL;
    }
    free(text);
    return root;
}
