/* SPDX-License-Identifier: MIT */
/* Aho-Corasick matcher over case-folded UTF-8 text, reporting original offsets. */
#include "ac.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/*
 * The automaton runs over the bytes of the *folded* text. Folding maps one
 * code point to one code point, so the k-th folded code point is the k-th
 * original one; a ring of the original start offsets of the last
 * AC_MAX_PATTERN code points turns a match's length in code points back into
 * original byte offsets, even when folding changes a byte length (U+017F).
 * Patterns and folded text are both valid UTF-8, and UTF-8 is
 * self-synchronising, so a byte match always starts and ends on code point
 * boundaries.
 */
struct node {
    uint32_t child;     /* build: first child */
    uint32_t sibling;   /* build: next child of the same parent */
    uint32_t fail;      /* longest proper suffix that is a trie node */
    uint32_t dict;      /* nearest node on the fail chain with output */
    uint32_t out;       /* first pattern ending here, chained by pat.next */
    uint32_t estart;    /* compiled: first edge in elabel/etarget */
    uint16_t nedge;     /* compiled: number of edges, sorted by label */
    uint8_t label;      /* byte on the edge into this node */
};

struct pat {
    uint32_t value;
    uint32_t ncp;       /* length in code points */
    uint32_t next;      /* next pattern ending at the same node */
};

struct ac {
    struct node *nodes;     /* nodes[0] is the root */
    size_t nnodes, capnodes;
    struct pat *pats;
    size_t npats, cappats;
    uint8_t *elabel;        /* compiled edges, grouped by source node */
    uint32_t *etarget;
    uint32_t root[256];     /* compiled root transitions; 0 stays at root */
    int compiled;
};

/* {====================== UTF-8 and folding ============================ */

static int cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t ac_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    uint32_t v;

    if (len == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xC2)        /* continuation byte, or an overlong 2-byte lead */
        return 0;
    if (s[0] < 0xE0) {
        if (len < 2 || !cont(s[1]))
            return 0;
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0) {
        if (len < 3 || !cont(s[1]) || !cont(s[2]))
            return 0;
        v = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
            (s[2] & 0x3F);
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        *cp = v;
        return 3;
    }
    if (s[0] < 0xF5) {
        if (len < 4 || !cont(s[1]) || !cont(s[2]) || !cont(s[3]))
            return 0;
        v = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
            ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        if (v < 0x10000 || v > 0x10FFFF)
            return 0;
        *cp = v;
        return 4;
    }
    return 0;
}

size_t ac_utf8_check(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, n;
    uint32_t cp;

    while (i < len) {
        n = ac_utf8_decode(u + i, len - i, &cp);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

static size_t encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Unicode simple case folding (CaseFolding.txt status C and S) for the
 * scripts a keyword list is likely to mix with Chinese: Basic Latin,
 * Latin-1, Latin Extended-A, Greek, Cyrillic and full-width Latin. Full
 * foldings that change the number of code points (sharp s to "ss", dotted
 * capital I to "i" + U+0307) are left out so that offsets map one to one.
 */
uint32_t ac_fold(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c < 0x100) {
        if (c == 0xB5)                      /* micro sign to Greek mu */
            return 0x3BC;
        if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
            return c + 32;
        return c;
    }
    if (c < 0x180) {
        if (c == 0x130)                     /* dotted I: full folding only */
            return c;
        if (c == 0x178)                     /* Y with diaeresis to U+00FF */
            return 0xFF;
        if (c == 0x17F)                     /* long s */
            return 's';
        if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return c | 1;                   /* pairs: capital even, small odd */
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c + 1 : c;     /* pairs: capital odd, small even */
        return c;
    }
    if (c >= 0x386 && c <= 0x3AB) {
        if (c == 0x386)
            return 0x3AC;
        if (c >= 0x388 && c <= 0x38A)
            return c + 37;
        if (c == 0x38C)
            return 0x3CC;
        if (c == 0x38E || c == 0x38F)
            return c + 63;
        if (c >= 0x391 && c != 0x3A2)
            return c + 32;
        return c;
    }
    if (c == 0x3C2)                         /* final sigma */
        return 0x3C3;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c == 0x1E9E)                        /* capital sharp s */
        return 0xDF;
    if (c == 0x212A)                        /* Kelvin sign */
        return 'k';
    if (c == 0x212B)                        /* Angstrom sign */
        return 0xE5;
    if (c >= 0xFF21 && c <= 0xFF3A)         /* full-width A-Z */
        return c + 32;
    return c;
}

/* }===================================================================== */

/* {====================== Building ===================================== */

struct ac *ac_new(void)
{
    struct ac *ac = calloc(1, sizeof(*ac));

    if (!ac)
        return NULL;
    ac->capnodes = 64;
    ac->nodes = malloc(ac->capnodes * sizeof(*ac->nodes));
    if (!ac->nodes) {
        free(ac);
        return NULL;
    }
    ac->nnodes = 1;
    ac->nodes[0] = (struct node){ .child = NONE, .sibling = NONE, .fail = 0,
                                  .dict = NONE, .out = NONE };
    return ac;
}

void ac_free(struct ac *ac)
{
    if (!ac)
        return;
    free(ac->nodes);
    free(ac->pats);
    free(ac->elabel);
    free(ac->etarget);
    free(ac);
}

size_t ac_count(const struct ac *ac)
{
    return ac->npats;
}

uint32_t ac_value(const struct ac *ac, uint32_t id)
{
    return ac->pats[id].value;
}

static uint32_t build_child(struct ac *ac, uint32_t n, uint8_t b)
{
    uint32_t c;

    for (c = ac->nodes[n].child; c != NONE; c = ac->nodes[c].sibling)
        if (ac->nodes[c].label == b)
            return c;
    if (ac->nnodes == ac->capnodes) {
        size_t cap = ac->capnodes * 2;
        struct node *nodes;

        if (cap >= NONE)
            return NONE;
        nodes = realloc(ac->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return NONE;
        ac->nodes = nodes;
        ac->capnodes = cap;
    }
    c = (uint32_t)ac->nnodes++;
    ac->nodes[c] = (struct node){ .child = NONE, .sibling = ac->nodes[n].child,
                                  .fail = 0, .dict = NONE, .out = NONE,
                                  .label = b };
    ac->nodes[n].child = c;
    return c;
}

int ac_add(struct ac *ac, const char *pat, size_t len, uint32_t value)
{
    const unsigned char *p = (const unsigned char *)pat;
    unsigned char folded[AC_MAX_PATTERN];
    size_t i = 0, flen = 0, n;
    uint32_t cp, ncp = 0, node = 0, id;

    if (ac->compiled)
        return -EBUSY;
    if (len == 0 || len > AC_MAX_PATTERN)
        return -EINVAL;
    while (i < len) {
        n = ac_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || cp == 0)
            return -EINVAL;
        /* Folding never lengthens a code point, so folded fits. */
        flen += encode(ac_fold(cp), folded + flen);
        i += n;
        ncp++;
    }
    for (i = 0; i < flen; i++) {
        node = build_child(ac, node, folded[i]);
        if (node == NONE)
            return -ENOMEM;
    }
    for (id = ac->nodes[node].out; id != NONE; id = ac->pats[id].next)
        if (ac->pats[id].value == value)
            return -EEXIST;
    if (ac->npats == ac->cappats) {
        size_t cap = ac->cappats ? ac->cappats * 2 : 64;
        struct pat *pats;

        if (cap > INT32_MAX)
            return -ENOMEM;
        pats = realloc(ac->pats, cap * sizeof(*pats));
        if (!pats)
            return -ENOMEM;
        ac->pats = pats;
        ac->cappats = cap;
    }
    id = (uint32_t)ac->npats++;
    ac->pats[id] = (struct pat){ .value = value, .ncp = ncp,
                                 .next = ac->nodes[node].out };
    ac->nodes[node].out = id;
    return (int)id;
}

static uint32_t edge(const struct ac *ac, uint32_t n, uint8_t b)
{
    const struct node *nd = &ac->nodes[n];
    const uint8_t *lab = ac->elabel + nd->estart;
    size_t lo = 0, hi = nd->nedge;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (lab[mid] == b)
            return ac->etarget[nd->estart + mid];
        if (lab[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NONE;
}

/* The goto function with failure transitions folded in. */
static uint32_t step(const struct ac *ac, uint32_t s, uint8_t b)
{
    uint32_t t;

    while (s != 0) {
        t = edge(ac, s, b);
        if (t != NONE)
            return t;
        s = ac->nodes[s].fail;
    }
    return ac->root[b];
}

int ac_compile(struct ac *ac)
{
    size_t nedges = ac->nnodes - 1, e = 0, head = 0, tail = 0, i;
    uint32_t *queue, c, u, f;

    if (ac->compiled)
        return 0;
    ac->elabel = malloc(nedges ? nedges : 1);
    ac->etarget = malloc((nedges ? nedges : 1) * sizeof(*ac->etarget));
    queue = malloc(ac->nnodes * sizeof(*queue));
    if (!ac->elabel || !ac->etarget || !queue) {
        free(ac->elabel);
        free(ac->etarget);
        free(queue);
        ac->elabel = NULL;
        ac->etarget = NULL;
        return -ENOMEM;
    }

    /* Edges of each node, contiguous and sorted by label for bsearch. */
    for (i = 0; i < ac->nnodes; i++) {
        struct node *nd = &ac->nodes[i];
        size_t start = e, j;

        nd->estart = (uint32_t)start;
        for (c = nd->child; c != NONE; c = ac->nodes[c].sibling) {
            uint8_t lab = ac->nodes[c].label;

            for (j = e; j > start && ac->elabel[j - 1] > lab; j--) {
                ac->elabel[j] = ac->elabel[j - 1];
                ac->etarget[j] = ac->etarget[j - 1];
            }
            ac->elabel[j] = lab;
            ac->etarget[j] = c;
            e++;
        }
        nd->nedge = (uint16_t)(e - start);
    }
    memset(ac->root, 0, sizeof(ac->root));
    for (c = ac->nodes[0].child; c != NONE; c = ac->nodes[c].sibling)
        ac->root[ac->nodes[c].label] = c;

    /* Breadth first, so that every fail target is finished before use. */
    for (c = ac->nodes[0].child; c != NONE; c = ac->nodes[c].sibling) {
        ac->nodes[c].fail = 0;
        ac->nodes[c].dict = NONE;
        queue[tail++] = c;
    }
    while (head < tail) {
        u = queue[head++];
        for (c = ac->nodes[u].child; c != NONE; c = ac->nodes[c].sibling) {
            f = step(ac, ac->nodes[u].fail, ac->nodes[c].label);
            ac->nodes[c].fail = f;
            ac->nodes[c].dict = ac->nodes[f].out != NONE ? f : ac->nodes[f].dict;
            queue[tail++] = c;
        }
    }
    free(queue);
    ac->compiled = 1;
    return 0;
}

/* }===================================================================== */

int ac_scan(const struct ac *ac, const char *text, size_t len,
            ac_hit_fn fn, void *ud)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t ring[AC_MAX_PATTERN];    /* start offsets of the last code points */
    unsigned char buf[4];
    size_t i = 0, k = 0, n, m, j, start;
    uint32_t s = 0, cp, o, id;
    int rc;

    if (!ac->compiled || ac->npats == 0)
        return 0;
    while (i < len) {
        n = ac_utf8_decode(t + i, len - i, &cp);
        if (n == 0) {
            s = 0;          /* no match spans a broken sequence */
            i++;
            continue;
        }
        ring[k % AC_MAX_PATTERN] = i;
        m = encode(ac_fold(cp), buf);
        for (j = 0; j < m; j++)
            s = step(ac, s, buf[j]);
        i += n;
        o = ac->nodes[s].out != NONE ? s : ac->nodes[s].dict;
        for (; o != NONE; o = ac->nodes[o].dict) {
            for (id = ac->nodes[o].out; id != NONE; id = ac->pats[id].next) {
                start = ring[(k + 1 - ac->pats[id].ncp) % AC_MAX_PATTERN];
                rc = fn(ud, id, ac->pats[id].value, start, i - start);
                if (rc)
                    return rc;
            }
        }
        k++;
    }
    return 0;
}
