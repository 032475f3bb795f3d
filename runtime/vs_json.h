// Small JSON files (model configs, SVG2 presets, checkpoint indexes, VAE configs): read whole,
// size-capped, parsed with cJSON; every failure names the file (and the line of a syntax error).
#pragma once
#include <stddef.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

// "a number", "a string", ..., "nothing" for NULL: for messages about a field of the wrong type.
const char *vs_json_type_name(const cJSON *item);

// Reads `path` (at most max_bytes) and parses it as a JSON object; `what` names the kind of file
// in messages ("config", "index"). NULL + vs_last_error() on failure; free with cJSON_Delete.
cJSON *vs_json_load_object(const char *path, size_t max_bytes, const char *what);

#ifdef __cplusplus
}
#endif
