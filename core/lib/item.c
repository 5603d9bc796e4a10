/* SPDX-License-Identifier: MIT */
/* The item hooks see: built from an upload, then tagged, matched and reasoned. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/item.h"

static const char *text_field(json_t *upload, const char *key)
{
    return json_string_value(json_object_get(upload, key));
}

static int load_hashes(struct sl_item *item, json_t *arr)
{
    size_t i;
    json_t *v;

    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return -EINVAL;
    if (json_array_size(arr) == 0)
        return 0;
    item->hashes = calloc(json_array_size(arr), sizeof *item->hashes);
    if (item->hashes == NULL)
        return -ENOMEM;
    json_array_foreach(arr, i, v) {
        if (sl_hash_parse(json_string_value(v), &item->hashes[i]) < 0)
            return -EINVAL;
    }
    item->nhashes = json_array_size(arr);
    return 0;
}

/* Client tags {name: confidence} become {name: {confidence, source: "upload"}}. */
static int load_tags(struct sl_item *item, json_t *tags)
{
    const char *name;
    json_t *v;

    if (tags == NULL || json_is_null(tags))
        return 0;
    if (!json_is_object(tags))
        return -EINVAL;
    json_object_foreach(tags, name, v) {
        if (!json_is_number(v))
            return -EINVAL;
        if (sl_item_tag(item, name, json_number_value(v), "upload") < 0)
            return -EINVAL;
    }
    return 0;
}

static int load_signals(struct sl_item *item, json_t *signals)
{
    const char *name;
    json_t *v;

    if (signals == NULL || json_is_null(signals))
        return 0;
    if (!json_is_object(signals))
        return -EINVAL;
    json_object_foreach(signals, name, v) {
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return -EINVAL;
        if (json_object_set_new(item->signals, name, json_real(json_number_value(v))) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Items are made on the loop and on policy job threads. The serial tells
 * the Lua view (lua/lua_item.c) that an item is the one it shows, which
 * the item's address cannot: a freed item's address comes back. */
static atomic_uint_fast64_t serials;

struct sl_item *sl_item_new(json_t *upload)
{
    struct sl_item *item;
    int rc;

    if (!json_is_object(upload)) {
        errno = EINVAL;
        return NULL;
    }
    item = calloc(1, sizeof *item);
    if (item == NULL)
        return NULL;
    item->serial = (uint64_t)atomic_fetch_add(&serials, 1) + 1;
    item->upload = json_incref(upload);
    item->id = text_field(upload, "id");
    item->creator = text_field(upload, "creator");
    item->title = text_field(upload, "title");
    item->description = text_field(upload, "description");
    item->transcript = text_field(upload, "transcript");
    item->city = text_field(upload, "city");
    item->signals = json_object();
    item->tags = json_object();
    item->matches = json_array();
    item->reasons = json_array();
    item->plugin_verdicts = json_array();
    item->plugin_decisions = json_array();
    if (!item->signals || !item->tags || !item->matches || !item->reasons ||
        !item->plugin_verdicts || !item->plugin_decisions) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = load_signals(item, json_object_get(upload, "signals"))) < 0 ||
        (rc = load_tags(item, json_object_get(upload, "tags"))) < 0 ||
        (rc = load_hashes(item, json_object_get(upload, "hashes"))) < 0)
        goto fail;
    return item;

fail:
    sl_item_free(item);
    errno = -rc;
    return NULL;
}

void sl_item_free(struct sl_item *item)
{
    if (item == NULL)
        return;
    json_decref(item->upload);
    json_decref(item->signals);
    free(item->hashes);
    json_decref(item->tags);
    json_decref(item->matches);
    json_decref(item->reasons);
    json_decref(item->plugin_verdicts);
    json_decref(item->plugin_decisions);
    free(item);
}

int sl_item_tag(struct sl_item *item, const char *name, double confidence,
                const char *source)
{
    json_t *tag;

    if (item == NULL || name == NULL || name[0] == '\0' || source == NULL ||
        isnan(confidence))
        return -EINVAL;
    if (confidence < 0.0)
        confidence = 0.0;
    if (confidence > 1.0)
        confidence = 1.0;
    tag = json_pack("{s:f, s:s}", "confidence", confidence, "source", source);
    if (tag == NULL)
        return -EINVAL;     /* source is not UTF-8 */
    /* json_object_set_new refuses a key that is not UTF-8, and frees tag. */
    return json_object_set_new(item->tags, name, tag) < 0 ? -EINVAL : 0;
}

int sl_item_reason(struct sl_item *item, const char *reason)
{
    json_t *s;

    if (item == NULL || reason == NULL || reason[0] == '\0')
        return -EINVAL;
    s = json_string(reason);
    if (s == NULL)
        return -EINVAL;
    return json_array_append_new(item->reasons, s) < 0 ? -ENOMEM : 0;
}

int sl_item_match(struct sl_item *item, const char *source, const char *kind,
                  const char *name, const char *detail, double score,
                  const char *field, size_t offset, size_t length)
{
    json_t *m;

    if (item == NULL || source == NULL || kind == NULL || name == NULL ||
        !isfinite(score) || offset > (size_t)INT64_MAX || length > (size_t)INT64_MAX)
        return -EINVAL;
    m = json_pack("{s:s, s:s, s:s, s:s?, s:f, s:s?, s:I, s:I}",
                  "source", source, "kind", kind, "name", name, "detail", detail,
                  "score", score, "field", field,
                  "offset", (json_int_t)offset, "length", (json_int_t)length);
    if (m == NULL)
        return -EINVAL;     /* a string that is not UTF-8 */
    return json_array_append_new(item->matches, m) < 0 ? -ENOMEM : 0;
}

int sl_hash_parse(const char *hex, uint64_t *out)
{
    char *end;
    if (!hex || strlen(hex) != 16 || strspn(hex, "0123456789abcdefABCDEF") != 16)
        return -EINVAL;
    *out = strtoull(hex, &end, 16);
    return 0;
}
