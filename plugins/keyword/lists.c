/* SPDX-License-Identifier: MIT */
/* Keyword list files: parsing NAME.list files into one matcher. */
#define _POSIX_C_SOURCE 200809L
#include "lists.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG_MAX 128

__attribute__((format(printf, 5, 6)))
static int fail(char *err, size_t errlen, const char *file, size_t line,
                const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line)
        snprintf(err, errlen, "%s:%zu: %s", file, line, msg);
    else
        snprintf(err, errlen, "%s: %s", file, msg);
    return -EINVAL;
}

static int oom(char *err, size_t errlen, const char *file)
{
    snprintf(err, errlen, "%s: out of memory", file);
    return -ENOMEM;
}

struct kw_set *kw_set_new(void)
{
    struct kw_set *set = calloc(1, sizeof(*set));

    if (!set)
        return NULL;
    set->ac = ac_new();
    if (!set->ac) {
        free(set);
        return NULL;
    }
    return set;
}

void kw_set_free(struct kw_set *set)
{
    size_t i;

    if (!set)
        return;
    for (i = 0; i < set->nlists; i++) {
        free(set->lists[i].name);
        free(set->lists[i].tag);
    }
    for (i = 0; i < set->nwords; i++)
        free(set->words[i]);
    free(set->lists);
    free(set->words);
    ac_free(set->ac);
    free(set);
}

/* The identifier rule of the HTTP API, so a tag is always storable. */
static int valid_id(const char *s, size_t len, size_t max)
{
    size_t i;

    if (len == 0 || len > max || s[0] == '.')
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
              c == ':' || c == '@'))
            return 0;
    }
    return 1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A control character anywhere is a mistake, not a keyword. */
static int has_control(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return 1;
    }
    return 0;
}

static int parse_header(struct kw_list *list, const char *file, size_t lineno,
                        const char *s, size_t len, char *err, size_t errlen)
{
    size_t i = 0;

    while (i < len) {
        size_t ks, kl, vs, vl;

        while (i < len && is_space(s[i]))
            i++;
        if (i == len)
            break;
        ks = i;
        while (i < len && s[i] != '=' && !is_space(s[i]))
            i++;
        kl = i - ks;
        if (i == len || s[i] != '=')
            return fail(err, errlen, file, lineno,
                        "header item \"%.*s\" is not key=value", (int)kl, s + ks);
        vs = ++i;
        while (i < len && !is_space(s[i]))
            i++;
        vl = i - vs;
        if (kl == 3 && memcmp(s + ks, "tag", 3) == 0) {
            char *tag;

            if (!valid_id(s + vs, vl, TAG_MAX))
                return fail(err, errlen, file, lineno,
                            "tag \"%.*s\" is not 1 to %d characters of "
                            "A-Z a-z 0-9 _ - . : @", (int)vl, s + vs, TAG_MAX);
            tag = strndup(s + vs, vl);
            if (!tag)
                return oom(err, errlen, file);
            free(list->tag);
            list->tag = tag;
        } else if (kl == 8 && memcmp(s + ks, "severity", 8) == 0) {
            char num[32], *end;
            double v;

            if (vl == 0 || vl >= sizeof(num))
                return fail(err, errlen, file, lineno,
                            "severity \"%.*s\" is not a number in [0,1]",
                            (int)vl, s + vs);
            memcpy(num, s + vs, vl);
            num[vl] = '\0';
            errno = 0;
            v = strtod(num, &end);
            if (*end || errno || !isfinite(v) || v < 0 || v > 1)
                return fail(err, errlen, file, lineno,
                            "severity \"%s\" is not a number in [0,1]", num);
            list->severity = v;
        } else {
            return fail(err, errlen, file, lineno,
                        "unknown header key \"%.*s\" (known: tag, severity)",
                        (int)kl, s + ks);
        }
    }
    return 0;
}

static int add_word(struct kw_set *set, uint32_t li, const char *s, size_t len,
                    const char *file, char *err, size_t errlen)
{
    int id = ac_add(set->ac, s, len, li);

    if (id == -EEXIST)      /* the same keyword again, maybe in another case */
        return 0;
    if (id < 0)
        return id == -ENOMEM ? oom(err, errlen, file) : id;
    if (set->nwords == set->capwords) {
        size_t cap = set->capwords ? set->capwords * 2 : 64;
        char **w = realloc(set->words, cap * sizeof(*w));

        if (!w)
            return oom(err, errlen, file);
        set->words = w;
        set->capwords = cap;
    }
    /* ac ids are dense, so words[] stays indexed by id. */
    set->words[set->nwords] = strndup(s, len);
    if (!set->words[set->nwords])
        return oom(err, errlen, file);
    set->nwords++;
    set->lists[li].nwords++;
    return 0;
}

int kw_set_parse(struct kw_set *set, const char *name, const char *file,
                 const char *buf, size_t len, char *err, size_t errlen)
{
    struct kw_list *list, *lists;
    size_t pos = 0, lineno = 0, i;
    int header = 0, rc;
    uint32_t li;

    if (!valid_id(name, strlen(name), KW_MAX_NAME) || strchr(name, ':') ||
        strchr(name, '@'))
        return fail(err, errlen, file, 0,
                    "list name \"%s\" is not 1 to %d characters of "
                    "A-Z a-z 0-9 _ - .", name, KW_MAX_NAME);
    for (i = 0; i < set->nlists; i++)
        if (strcmp(set->lists[i].name, name) == 0)
            return fail(err, errlen, file, 0, "list \"%s\" loaded twice", name);
    lists = realloc(set->lists, (set->nlists + 1) * sizeof(*lists));
    if (!lists)
        return oom(err, errlen, file);
    set->lists = lists;
    li = (uint32_t)set->nlists;
    list = &set->lists[set->nlists++];
    *list = (struct kw_list){ .severity = KW_DEFAULT_SEVERITY };
    list->name = strdup(name);
    if (!list->name)
        return oom(err, errlen, file);
    list->tag = malloc(strlen(name) + sizeof("keyword."));
    if (!list->tag)
        return oom(err, errlen, file);
    sprintf(list->tag, "keyword.%s", name);

    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;            /* a BOM some editors write */
    while (pos < len) {
        const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos, bad;
        size_t s = 0, e = ll;

        pos += ll + (nl ? 1 : 0);
        lineno++;
        bad = ac_utf8_check(line, ll);
        if (bad < ll)
            return fail(err, errlen, file, lineno,
                        "invalid UTF-8 at byte %zu of the line", bad + 1);
        while (s < e && is_space(line[s]))
            s++;
        while (e > s && is_space(line[e - 1]))
            e--;
        if (has_control(line + s, e - s))
            return fail(err, errlen, file, lineno, "control character in line");
        if (s == e)
            continue;
        if (e - s >= 2 && line[s] == '#' && line[s + 1] == '!') {
            if (header)
                return fail(err, errlen, file, lineno, "second header line");
            if (list->nwords)
                return fail(err, errlen, file, lineno,
                            "the header must come before the first keyword");
            header = 1;
            rc = parse_header(list, file, lineno, line + s + 2, e - s - 2,
                              err, errlen);
            if (rc)
                return rc;
            continue;
        }
        if (line[s] == '#')
            continue;
        if (e - s > AC_MAX_PATTERN)
            return fail(err, errlen, file, lineno,
                        "keyword longer than %d bytes", AC_MAX_PATTERN);
        rc = add_word(set, li, line + s, e - s, file, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_file(const char *path, char **out, size_t *outlen,
                     char *err, size_t errlen)
{
    struct stat st;
    size_t got = 0;
    char *buf;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > KW_MAX_FILE) {
        rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
        snprintf(err, errlen, "%s: %s", path, rc == -EFBIG ?
                 "larger than the 64 MiB a list may have" : "not a regular file");
        close(fd);
        return rc;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return oom(err, errlen, path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", path, strerror(-rc));
            free(buf);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;  /* shrank while we read: parse what is there */
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *outlen = got;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kw_set_load_dir(struct kw_set *set, const char *dir, char *err, size_t errlen)
{
    char **names = NULL, **tmp;
    size_t n = 0, cap = 0, i;
    struct dirent *de;
    DIR *d;
    int rc = 0;

    d = opendir(dir);
    if (!d) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (de->d_name[0] == '.' || l <= 5 || strcmp(de->d_name + l - 5, ".list"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            tmp = realloc(names, cap * sizeof(*names));
            if (!tmp) {
                rc = oom(err, errlen, dir);
                goto out;
            }
            names = tmp;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = oom(err, errlen, dir);
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (i = 0; i < n && rc == 0; i++) {
        size_t nl = strlen(names[i]) - 5;
        char *path, *buf = NULL, *name;
        size_t len = 0;

        path = malloc(strlen(dir) + strlen(names[i]) + 2);
        name = strndup(names[i], nl);
        if (!path || !name) {
            free(path);
            free(name);
            rc = oom(err, errlen, dir);
            break;
        }
        sprintf(path, "%s/%s", dir, names[i]);
        rc = read_file(path, &buf, &len, err, errlen);
        if (rc == 0)
            rc = kw_set_parse(set, name, path, buf, len, err, errlen);
        free(buf);
        free(name);
        free(path);
    }
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int kw_set_compile(struct kw_set *set)
{
    return ac_compile(set->ac);
}

int kw_set_load(const char *dir, struct kw_set **out, char *err, size_t errlen)
{
    struct kw_set *set = kw_set_new();
    int rc;

    if (!set) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return -ENOMEM;
    }
    rc = kw_set_load_dir(set, dir, err, errlen);
    if (rc == 0 && kw_set_compile(set) < 0)
        rc = oom(err, errlen, dir);
    if (rc) {
        kw_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}
