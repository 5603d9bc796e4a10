/* SPDX-License-Identifier: MIT */
/* What the parts of the Lua sandbox share: struct sl_lua and their internals. */
#ifndef SL_SANDBOX_INTERNAL_H
#define SL_SANDBOX_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <lua.h>

#include "lua/lua_item.h"
#include "lua/sandbox.h"

/*
 * sandbox.h is the sandbox's face; its parts share what is here:
 *   sandbox.c          a sandbox's life cycle and what it tells about itself
 *   sandbox_budget.c   the memory and instruction budgets
 *   sandbox_call.c     the one protected way into Lua; errors as "file:line: message"
 *   sandbox_env.c      the allow-listed environment policies run in; require
 *   sandbox_load.c     loading a policy directory or sources, the version; sl_lua_check
 *   sandbox_hooks.c    calling hooks: tag, review, plan, call_json, has_hook
 */

#define ALLOC_UNIT 64           /* bytes allocated that cost one instruction */
#define HOOK_CHUNK 1000         /* instructions between two budget checks */
#define BIG_STRING (64 << 10)   /* strings this long make the checks more frequent */
#define MODULE_NAME_MAX 64
#define WHERE_MAX (LUA_IDSIZE + 32)

/* One policy file, held in memory while a set loads. */
struct policy_file {
    char *name;                 /* "10-review.lua" */
    char *chunkname;            /* "@policies/10-review.lua" */
    char module[MODULE_NAME_MAX + 1];   /* "helpers" for helpers.lua; "" if none */
    char *data;
    size_t len;
    bool run;                   /* run its top level (else only require finds it) */
};

/* Policy files in memory (sandbox.h): a set read from a directory, or given. */
struct sl_lua_sources {
    char label[64];             /* names the set: "policies" */
    struct policy_file *files;
    size_t n, cap;
};

/* One sandbox (sandbox.h): its Lua state, budgets, what runs, the loaded set. */
struct sl_lua {
    lua_State *L;

    /* memory budget (the allocator) */
    size_t mem_used;
    size_t mem_limit;
    bool mem_refused;           /* an allocation was refused in this call */

    /* instruction budget (the count hook, the allocator, sl_lua_charge) */
    long long instr_limit;
    long long left;             /* instructions left in this call */
    int hook_count;             /* instructions between two hook calls now */
    bool in_call;
    bool exhausted;             /* the budget or the time ran out in this call */
    bool timed_out;             /* ... and it was the time */
    char stop_where[WHERE_MAX]; /* where it ran out */

    /* time (sandbox_budget.c): CPU time the count does not explain is
     * charged as instructions; a call is cut at the time limit */
    int64_t time_limit_ns;      /* of CPU time */
    int64_t call_start;         /* monotonic ns when the call began */
    int64_t cpu_start;          /* thread CPU ns then, or a little before */
    int64_t cpu_read;           /* thread CPU ns at the newest reading ... */
    int64_t cpu_read_mono;      /* ... and monotonic ns then (0: none yet) */
    pthread_t cpu_read_by;      /* ... on this thread's clock */
    int64_t last_check;         /* monotonic ns at the last check */
    long long left_at_check;    /* left then */
    int64_t cpu_at;             /* thread CPU ns at the last reading */
    long long left_at_cpu;      /* left then */
    long long time_charged;     /* instructions charged for time in this call */

    /* live strings of BIG_STRING bytes or more (sandbox_budget.c):
     * comparing two strings is one instruction however long they are, so
     * the longer the longest string, the more often the hook looks at the
     * time */
    struct big_string {
        const void *p;          /* NULL: a free slot */
        size_t size;
    } *big;                     /* a set keyed by p, big_cap slots (a power of 2) */
    size_t nbig, big_cap;
    unsigned big_count[64];     /* how many by floor(log2(size)) */
    bool big_lost;              /* one could not be recorded: assume the worst */

    /* what runs: "policies/x.lua" or "policies/x.lua:4" where the hook is
     * defined, for errors that have no line of their own */
    char where[WHERE_MAX];
    /* where each hook function called so far is defined, found once: each
     * function is held in the registry, so its address stays its own */
    struct hook_site {
        const void *fn;
        char where[WHERE_MAX];
    } sites[8];
    size_t nsites;

    unsigned prints;            /* print lines in this call */
    sl_lua_log_fn *log;
    void *log_ud;

    int env_ref;                /* the policy environment, in the registry */
    int modules_ref;            /* require's cache: module name -> value */
    char label[64];             /* the directory's base name ("policies"); may be "" */
    struct policy_file *files;  /* while loading */
    size_t nfiles;
    struct sl_lua_sources *sources;     /* what the loaded set was loaded from */

    bool loaded;
    char version[13];
    json_t *file_list;
    struct sl_lua_item_slot slot;
};

/* The sandbox L belongs to: sl_lua_new keeps it in the state's extra space. */
static inline struct sl_lua *sl_lua_sandbox(lua_State *L)
{
    return *(struct sl_lua **)lua_getextraspace(L);
}

/* Only letters, digits and '_' (a Lua name's characters): module and hook
 * names, so that neither can reach a path or anything but a plain global. */
static inline bool sl_lua_name_chars(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* sandbox_budget.c */
/* The lua_Alloc of every sandbox (ud is the sandbox): the memory budget,
 * and the instructions what a call allocates costs. */
void *sl_lua_budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* A fresh budget for a call: instructions, the clocks, the hook. */
void sl_lua_budget_start(struct sl_lua *sl);
/* The budget is over for this call (removes the hook). */
void sl_lua_budget_end(struct sl_lua *sl);
/* Release what the budget keeps (after lua_close). */
void sl_lua_budget_free(struct sl_lua *sl);

/* sandbox_call.c */
/* Format into err (when there is one), as one line of valid UTF-8: the
 * caller may log it or send it in a JSON body. */
void sl_lua_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "file:line" of the innermost Lua function running, or sl->where. */
void sl_lua_locate(lua_State *L, char *buf, size_t len);
/* "x:12: " at the start of a message: it says where already. */
bool sl_lua_has_location(const char *msg);
/* The message handler of every protected call: gives an error its
 * "file:line: " of policy code. */
int sl_lua_msgh(lua_State *L);
/* Run fn with arg under a fresh budget, in protected mode: the one way
 * into Lua. 0 or a negative errno with err as sandbox.h says. */
int sl_lua_protect(struct sl_lua *sl, lua_CFunction fn, void *arg, char *err,
                   size_t errlen);

/* sandbox_env.c */
/* Build the policy environment (run through sl_lua_protect by sl_lua_new). */
int sl_lua_env_open(lua_State *L);
/* Run policy file f as a module, keeping its value for require. Raises. */
void sl_lua_run_module(lua_State *L, struct sl_lua *sl, const struct policy_file *f);

#endif
