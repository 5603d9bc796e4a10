/* SPDX-License-Identifier: MIT */
/* What the parts of lib/json share: the fast road of sl_json_parse (json_fast.c). */
#ifndef SL_JSON_INTERNAL_H
#define SL_JSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* buf[0..len) as jansson would read it (JSON_DECODE_ANY, duplicates
 * refused), when it is in the plain subset json_fast.c reads; NULL for
 * anything else, valid or not, which jansson's road then reads. want_object:
 * decline anything but an object at the top. */
json_t *sl_json_fast_parse(const char *buf, size_t len, bool want_object);

#endif
