/* The JSON parser alone, then a walk over every value of the tree. */
#include "fuzz.h"

#include <string.h>

#include "format/json.h"

static void walk(const pn_json *j, int depth)
{
    int64_t i;
    /* what the parser promises its callers */
    if (!j || depth > PN_JSON_MAX_DEPTH + 1)
        __builtin_trap();
    if (j->type == PN_JSON_STRING && strlen(j->string) != j->length)
        __builtin_trap();
    if (pn_json_int64(j, &i) && (j->type != PN_JSON_NUMBER || (double)i != j->number))
        __builtin_trap();
    if (j->type == PN_JSON_ARRAY || j->type == PN_JSON_OBJECT)
        for (size_t k = 0; k < j->count; k++)
            walk(pn_json_item(j, k), depth + 1);
    if (j->type == PN_JSON_OBJECT && j->count > 0 && pn_json_get(j, j->keys[0]) == NULL)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pn_json *j = NULL;
    if (pn_json_parse((const char *)data, size, "fuzz", &j) != PNEUMO_OK)
        return 0;
    walk(j, 0);
    pn_json_free(j);
    return 0;
}
