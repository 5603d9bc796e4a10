/* SPDX-License-Identifier: MIT */
/* The audit key: kept outside the database, loaded or made at start, handed to the store. */
#ifndef SL_AUDIT_KEY_H
#define SL_AUDIT_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_store;

#define SL_AUDIT_KEY_LEN 32

/*
 * The key file: 64 hex digits (the key), then optionally "from N": the
 * first record the key keys (absent: 1, the whole chain). Blanks around
 * either are ignored.
 *
 * Load the key in path into key and *keyed_from. When the file does not
 * exist and keyed_from_new > 0, make it first: 32 random bytes and "from
 * keyed_from_new", mode 0600, synced with its directory before use. 0
 * (*created says whether it was made), or a negative errno with err
 * holding a sentence that names the file.
 */
int sl_audit_key_load(const char *path, int64_t keyed_from_new,
                      uint8_t key[SL_AUDIT_KEY_LEN], int64_t *keyed_from, bool *created,
                      char *err, size_t errlen);

/*
 * At start, before the commit thread takes the writer: load the key and
 * give it to both connections. When the file does not exist, it is made if
 * may_create (the default place, not one an operator named) and the trail
 * has no keyed record yet (a new key would fail every keyed record): keyed
 * from the record after the newest, and a keyed "audit_keyed" record is
 * appended there when the trail already has plain ones.
 */
int sl_audit_key_start(struct sl_store *writer, struct sl_store *reader, const char *path,
                       bool may_create, char *err, size_t errlen);

#endif
