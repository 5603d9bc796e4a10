/* SPDX-License-Identifier: MIT */
/* Keyword list files: parsing NAME.list files into one matcher. */
#ifndef SL_KEYWORD_LISTS_H
#define SL_KEYWORD_LISTS_H

#include <stddef.h>

#include "ac.h"

/* Largest list file read, so a stray huge file fails clearly. */
#define KW_MAX_FILE (64u * 1024 * 1024)
/* Longest list name (the file name without ".list"). */
#define KW_MAX_NAME 64

struct kw_list {
    char *name;         /* file name without ".list" */
    char *tag;          /* tag set on a match; default "keyword.NAME" */
    double severity;    /* in [0,1]; default KW_DEFAULT_SEVERITY */
    size_t nwords;      /* distinct keywords */
};

#define KW_DEFAULT_SEVERITY 0.5

/* All lists of a directory. Everything is owned by the set. */
struct kw_set {
    struct ac *ac;          /* pattern value = index into lists */
    struct kw_list *lists;
    size_t nlists;
    char **words;           /* keyword as written in its file, by pattern id */
    size_t nwords, capwords;
};

/* An empty set; NULL on allocation failure. */
struct kw_set *kw_set_new(void);
void kw_set_free(struct kw_set *set);

/*
 * Parse one list's text (len bytes; need not be NUL-terminated) into set as
 * list name. file names the source in messages. On error err holds
 * "FILE:LINE: message" and a negative errno is returned; the set must then
 * be discarded.
 */
int kw_set_parse(struct kw_set *set, const char *name, const char *file,
                 const char *buf, size_t len, char *err, size_t errlen);

/* Parse every NAME.list of dir, in name order. Errors as kw_set_parse. */
int kw_set_load_dir(struct kw_set *set, const char *dir, char *err, size_t errlen);

/* Make the set ready for ac_scan. 0 or -ENOMEM. */
int kw_set_compile(struct kw_set *set);

/* kw_set_new, kw_set_load_dir and kw_set_compile; *out owned by the caller. */
int kw_set_load(const char *dir, struct kw_set **out, char *err, size_t errlen);

#endif
