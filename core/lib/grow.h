/* SPDX-License-Identifier: MIT */
/* Growing arrays. */
#ifndef SL_GROW_H
#define SL_GROW_H

#include <stddef.h>

/*
 * arrp points to an array pointer (any object type: pass &items), the
 * array holding *cap elements of size bytes each. Make it hold at least
 * need elements: the capacity doubles (from 16) until it does, and the new
 * elements are zero. 0, or -ENOMEM with the array and *cap unchanged (also
 * when the size in bytes would overflow). The pointer is read and written
 * through memcpy, so no T ** is ever accessed as void **.
 */
int sl_grow(void *arrp, size_t *cap, size_t need, size_t size);

#endif
