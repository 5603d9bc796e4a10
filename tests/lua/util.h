/* SPDX-License-Identifier: MIT */
/* Helpers the Lua runtime tests share: fixtures, probes, items, scratch folders. */
#ifndef SL_TEST_LUA_UTIL_H
#define SL_TEST_LUA_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "lib/item.h"
#include "lua/sandbox.h"

#define ERRLEN SL_LUA_ERR_MAX
/* A time limit far away (a minute of CPU), for tests where what should stop
 * a call is memory or the instruction budget, however slow the machine's
 * memory (AddressSanitizer's allocator, page faults on a virtual machine)
 * makes the work the call does. */
#define PATIENT_MS 60000

/* The fixture folder tests/lua/NAME of the source tree (a static buffer). */
const char *fixture(const char *name);

/* A sandbox with fixture NAME loaded; fails the test if it does not load. */
struct sl_lua *load_fixture(const char *name, const struct sl_lua_limits *limits);

/* The probe fixture with its time limit PATIENT_MS, so that what stops a
 * probe is the instruction budget (0: the default). */
struct sl_lua *load_patient(long long instructions);

/* Run code in the policy environment through the policies-probe fixture's
 * probe hook; *out (may be NULL) gets the result. */
int probe(struct sl_lua *sl, const char *code, json_t **out, char *err);

/* probe that must succeed; returns the result (the caller decrefs). */
json_t *probe_ok(struct sl_lua *sl, const char *code);

/* probe that must fail with rc; err must contain want. */
void probe_fails(struct sl_lua *sl, const char *code, int rc, const char *want);

/* Define hook name (NULL code: remove it) with the probe fixture's set_hook. */
void set_hook(struct sl_lua *sl, const char *name, const char *code);

/* The sandbox still answers a trivial call correctly. */
void assert_usable(struct sl_lua *sl);

/* An item from an upload written as JSON text. */
struct sl_item *make_item(const char *json);

/* A scratch folder under the current directory, its files, its removal. */
char *temp_dir(void);
void write_file(const char *dir, const char *name, const char *text);
void copy_fixture_file(const char *dir, const char *fixture_name, const char *name);
void remove_dir(char *dir);

#endif
