/* SPDX-License-Identifier: MIT */
/* Aho-Corasick matcher over case-folded UTF-8 text, reporting original offsets. */
#ifndef SL_KEYWORD_AC_H
#define SL_KEYWORD_AC_H

#include <stddef.h>
#include <stdint.h>

/* Longest pattern, in bytes as written. Bounds the offset ring in ac_scan. */
#define AC_MAX_PATTERN 256

struct ac;

/* An empty matcher; NULL on allocation failure. Owned by the caller. */
struct ac *ac_new(void);
void ac_free(struct ac *ac);

/*
 * Add a pattern (valid UTF-8, 1..AC_MAX_PATTERN bytes, no NUL) tagged with
 * value. Returns the pattern's id (0, 1, 2... in the order of successful
 * adds), -EEXIST if the same folded pattern was already added with the same
 * value, -EINVAL for an empty, too long or invalid pattern, -EBUSY after
 * ac_compile, -ENOMEM.
 */
int ac_add(struct ac *ac, const char *pat, size_t len, uint32_t value);

/* Build the failure links; required once before ac_scan. 0 or -ENOMEM. */
int ac_compile(struct ac *ac);

/* Number of patterns added. */
size_t ac_count(const struct ac *ac);

/* Value of pattern id. */
uint32_t ac_value(const struct ac *ac, uint32_t id);

/*
 * Called for every occurrence of every pattern, including overlapping ones,
 * in order of their end offset. offset and length are bytes of the original
 * text. A non-zero return stops the scan and is returned by ac_scan.
 */
typedef int (*ac_hit_fn)(void *ud, uint32_t id, uint32_t value,
                         size_t offset, size_t length);

/*
 * Scan len bytes of text. Latin, Greek, Cyrillic and full-width letters are
 * compared case-folded (ac_fold). A byte that is not part of valid UTF-8
 * ends any match in progress: no match spans it. 0, or fn's non-zero return.
 */
int ac_scan(const struct ac *ac, const char *text, size_t len,
            ac_hit_fn fn, void *ud);

/* Simple (one code point to one) case folding used for patterns and text. */
uint32_t ac_fold(uint32_t cp);

/*
 * Decode one strict UTF-8 code point (no overlongs, surrogates or values
 * above U+10FFFF) from s[0..len). Returns the bytes used, or 0 if invalid.
 */
size_t ac_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Byte offset of the first invalid UTF-8 sequence in s, or len if none. */
size_t ac_utf8_check(const char *s, size_t len);

#endif
