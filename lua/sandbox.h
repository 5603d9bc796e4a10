/* SPDX-License-Identifier: MIT */
/* The Lua policy sandbox: budgets, loading a policy directory, calling hooks. */
#ifndef SL_SANDBOX_H
#define SL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct sl_item;
struct sl_review;

/*
 * One sandbox holds one loaded policy set. It is not thread-safe: use it
 * from one thread at a time. Reload is build-new-then-swap: load a new
 * sandbox and, only if that succeeded, free the old one.
 *
 * Every function that runs Lua returns 0 on success, SL_DECLINED (from
 * sluice/plugin.h) when the hook is not defined, or a negative errno with
 * err holding one line "file:line: message":
 *   -ENOMEM     the memory budget ran out
 *   -ETIMEDOUT  the instruction budget ran out, or the call ran past the
 *               time limit
 *   -EINVAL     a Lua error, or a hook answered something malformed
 * A failed call changes nothing outside the sandbox, and the sandbox stays
 * usable for the next call. err may be NULL when errlen is 0.
 */

#define SL_LUA_MEMORY_DEFAULT ((size_t)64 << 20)
#define SL_LUA_MEMORY_MIN ((size_t)1 << 20)
#define SL_LUA_INSTRUCTIONS_DEFAULT 1000000
#define SL_LUA_INSTRUCTIONS_MIN 1000
#define SL_LUA_TIME_DEFAULT_MS 50
#define SL_LUA_ERR_MAX 512      /* a comfortable err buffer */

/*
 * The instruction budget counts VM instructions, and the work of library
 * functions by the size of what they read, write or scan. CPU time a call
 * spends beyond what its count explains (one instruction comparing two
 * strings of megabytes) is charged as instructions too, at one per
 * SL_LUA_NS_PER_INSTRUCTION. The time limit is a backstop whatever the
 * budget: a call that has run that long fails like one out of budget. Both
 * count the CPU time of the calling thread, not time it waited for a CPU.
 */
#define SL_LUA_NS_PER_INSTRUCTION 50

struct sl_lua_limits {
    size_t memory;          /* bytes the whole state may hold; 0: default */
    uint64_t instructions;  /* per call into Lua; 0: default */
    unsigned time_ms;       /* milliseconds of CPU time per call; 0: default */
};

/* Where print() goes: one line "file:line: text", valid during the call.
 * It runs inside a Lua call, so it must not call into the same sandbox. */
typedef void sl_lua_log_fn(void *ud, const char *line);

/* A sandbox with no policies yet. limits may be NULL (defaults). Returns
 * NULL with errno EINVAL when a limit is below its minimum, ENOMEM
 * otherwise. Freed by sl_lua_free. */
struct sl_lua *sl_lua_new(const struct sl_lua_limits *limits);
void sl_lua_free(struct sl_lua *sl);

/* Send print() output to fn (default: dropped). */
void sl_lua_set_log(struct sl_lua *sl, sl_lua_log_fn *fn, void *ud);

/*
 * Load every regular file *.lua (not starting with '.') of dir, in
 * byte-wise name order, running each file's top level with its own
 * instruction budget. Once per sandbox (-EALREADY after). On failure the
 * sandbox is half-loaded: free it.
 */
int sl_lua_load_dir(struct sl_lua *sl, const char *dir, char *err, size_t errlen);

/*
 * Policy files in memory: to load the set a sandbox holds into another
 * sandbox (on another thread: sources are a plain copy, they share nothing
 * with the sandbox they came from), or a candidate set that is not on
 * disk. A name is NAME.lua, not starting with '.'; the label names the set
 * in chunk names and errors ("label/NAME.lua:3: ..."), as a directory's
 * base name does. Loading sources is loading a directory of those files:
 * the same order, version, require and errors.
 */
struct sl_lua_sources;
/* An empty set; NULL when out of memory. Freed by sl_lua_sources_free. */
struct sl_lua_sources *sl_lua_sources_new(const char *label);
void sl_lua_sources_free(struct sl_lua_sources *src);
/* Add a copy of one file: 0, -EINVAL (not a policy file name), -EEXIST
 * (the set has it), -ENOMEM. */
int sl_lua_sources_add(struct sl_lua_sources *src, const char *name, const char *data,
                       size_t len);
/* A copy of the files sl was loaded from (the caller frees it); NULL when
 * out of memory. */
struct sl_lua_sources *sl_lua_sources_of(const struct sl_lua *sl);
/* Each file of src, in load order; fn's non-zero answer stops the walk and
 * is returned. */
int sl_lua_sources_each(const struct sl_lua_sources *src,
                        int (*fn)(void *arg, const char *name, const char *data, size_t len),
                        void *arg);
/* Load src (copied) like sl_lua_load_dir. */
int sl_lua_load_sources(struct sl_lua *sl, const struct sl_lua_sources *src, char *err,
                        size_t errlen);

/* The loaded set's version: the first 12 hex digits of SHA-256 over
 * (name, NUL, content, NUL) of each file in load order; "" before load.
 * Owned by sl. */
const char *sl_lua_version(const struct sl_lua *sl);

/* [{"file": NAME, "sha256": HEX}, ...] in load order. A borrowed reference,
 * owned by sl: json_incref it to keep it past sl_lua_free. */
json_t *sl_lua_files(const struct sl_lua *sl);

/* Bytes the Lua state holds now. */
size_t sl_lua_memory(const struct sl_lua *sl);

/*
 * Compile and run the top level of one script in a scratch sandbox, as a
 * file named name (which only labels errors). dir may be NULL; when given,
 * require() finds the modules of that policy directory (without running
 * its other files). 0 or a negative errno with err as above.
 */
int sl_lua_check(const char *name, const char *src, size_t len, const char *dir,
                 const struct sl_lua_limits *limits, char *err, size_t errlen);

/* Is the global function hook defined? */
bool sl_lua_has_hook(struct sl_lua *sl, const char *hook);

/* tag(item): the tags and reasons it set are applied to item only when it
 * succeeds. */
int sl_lua_tag(struct sl_lua *sl, struct sl_item *item, char *err, size_t errlen);

/*
 * review(item): *out is zeroed, then filled only on success, with
 * verdict approve, reject or review (never none), and a reason for reject
 * and review. Anything but a well-formed answer is -EINVAL.
 */
int sl_lua_review(struct sl_lua *sl, struct sl_item *item, struct sl_review *out,
                  char *err, size_t errlen);

/*
 * plan(item): the answer read straight from Lua, without JSON between.
 * *n is the number of waves when the answer is one list (keys exactly
 * 1..n) of 1 to max entries, else 0; each entry's fields as given, for the
 * caller to judge. Integers are what sl_lua_call_json would make integers.
 */
struct sl_lua_wave {
    char audience[160];     /* "" when not a string, or too long */
    bool size_ok;           /* size is an integer */
    long long size;
    int limit;              /* limit_s: 0 absent, 1 an integer, -1 anything else */
    long long limit_s;
    int review;             /* 0 absent, 1 a boolean, -1 anything else */
    bool review_on;
    int fill;               /* fill: 0 absent, 1 a number, -1 anything else */
    double fill_share;
    int check;              /* check: 0 absent, 1 an integer, -1 anything else */
    long long check_n;
};
int sl_lua_plan(struct sl_lua *sl, struct sl_item *item, struct sl_lua_wave *out,
                size_t max, size_t *n, char *err, size_t errlen);

/*
 * Any other hook: calls hook(item, args...) (without the item when item is
 * NULL) with the arguments converted to Lua values. On success *result is a
 * new reference the caller owns: null for no result, the value for one, an
 * array for several. JSON null arguments arrive as nil; an empty Lua table
 * comes back as [], a float without fraction as an integer. Tags and
 * reasons set on the item apply as for tag. *result is NULL on failure and
 * on SL_DECLINED.
 */
int sl_lua_call_json(struct sl_lua *sl, const char *hook, struct sl_item *item,
                     json_t *const *args, size_t nargs, json_t **result,
                     char *err, size_t errlen);

#endif
