/* SPDX-License-Identifier: MIT */
/* Growing arrays. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"

int sl_grow(void *arrp, size_t *cap, size_t need, size_t size)
{
    void *arr;

    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -ENOMEM;
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        return -ENOMEM;
    memcpy(&arr, arrp, sizeof(arr));
    char *v = realloc(arr, ncap * size);
    if (!v)
        return -ENOMEM;
    memset(v + *cap * size, 0, (ncap - *cap) * size);
    arr = v;
    memcpy(arrp, &arr, sizeof(arr));
    *cap = ncap;
    return 0;
}
