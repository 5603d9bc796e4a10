/* SPDX-License-Identifier: MIT */
/* Growing arrays. */
#ifndef SL_GROW_H
#define SL_GROW_H

#include <stddef.h>

/*
 * Make *arr, an array of *cap elements of size bytes each, hold at least
 * need elements: the capacity doubles (from 16) until it does, and the new
 * elements are zero. 0, or -ENOMEM with *arr and *cap unchanged (also when
 * the size in bytes would overflow).
 */
int sl_grow(void **arr, size_t *cap, size_t need, size_t size);

#endif
