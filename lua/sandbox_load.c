/* SPDX-License-Identifier: MIT */
/* Loading a policy directory: its files, the version hash, running them; sl_lua_check. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/grow.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "lua/sandbox_internal.h"

/* {====================== Reading the directory ======================== */

static void free_files(struct policy_file *files, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].chunkname);
        free(files[i].data);
    }
    free(files);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct policy_file *)a)->name,
                  ((const struct policy_file *)b)->name);
}

static bool is_policy_name(const char *name)
{
    size_t len = strlen(name);

    return name[0] != '.' && len > 4 && strcmp(name + len - 4, ".lua") == 0;
}

/* The whole of a regular file; 1 when name is something else (skipped). */
static int read_file(int dirfd, const char *name, size_t max, char **data, size_t *len)
{
    struct stat st;
    size_t got = 0;
    char *buf;
    int fd, rc = 0;

    /* O_NONBLOCK: a FIFO named x.lua must not hang the daemon. */
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = 1;
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = -EFBIG;
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* Shrunk under us: load what is there, the hash covers it. */
            if (n < 0)
                rc = -errno;
            break;
        }
        got += (size_t)n;
    }
    if (rc < 0) {
        free(buf);
        goto out;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
out:
    close(fd);
    return rc;
}

/* Read every policy file of dir, sorted by name. */
static int read_dir(const char *dir, size_t max, struct policy_file **out, size_t *nout,
                    char *err, size_t errlen)
{
    struct policy_file *files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int rc = 0;

    if ((d = opendir(dir)) == NULL) {
        rc = -errno;
        sl_lua_set_err(err, errlen, "%s: %s", dir, strerror(errno));
        return rc;
    }
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct policy_file *f;
        char *data = NULL;
        size_t len = 0;

        if (!is_policy_name(de->d_name))
            continue;
        rc = read_file(dirfd(d), de->d_name, max, &data, &len);
        if (rc == 1) {
            rc = 0;
            continue;
        }
        if (rc < 0) {
            sl_lua_set_err(err, errlen, "%s/%s: %s", dir, de->d_name,
                           rc == -EFBIG ? "larger than the memory budget" : strerror(-rc));
            goto fail;
        }
        if ((rc = sl_grow(&files, &cap, n + 1, sizeof *files)) < 0) {
            free(data);
            sl_lua_set_err(err, errlen, "%s: out of memory", dir);
            goto fail;
        }
        f = &files[n++];        /* zeroed by sl_grow */
        f->data = data;
        f->len = len;
        f->run = true;
        if ((f->name = strdup(de->d_name)) == NULL) {
            rc = -ENOMEM;
            sl_lua_set_err(err, errlen, "%s: out of memory", dir);
            goto fail;
        }
    }
    if (errno != 0) {
        rc = -errno;
        sl_lua_set_err(err, errlen, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    closedir(d);
    if (n > 0)
        qsort(files, n, sizeof *files, by_name);
    *out = files;
    *nout = n;
    return 0;

fail:
    closedir(d);
    free_files(files, n);
    return rc;
}

/* }===================================================================== */

/* {====================== Running the files ============================ */

/* The last component of path, without trailing slashes, into buf. */
static void base_name(const char *path, char *buf, size_t len)
{
    size_t end = strlen(path), start;

    while (end > 1 && path[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(buf, len, "%.*s", (int)(end - start), path + start);
}

/* Chunk names ("@label/name") and module names of sl->files. */
static int name_files(struct sl_lua *sl)
{
    size_t i;

    for (i = 0; i < sl->nfiles; i++) {
        struct policy_file *f = &sl->files[i];
        size_t len = strlen(f->name);
        size_t need = strlen(sl->label) + len + 3;

        free(f->chunkname);
        if ((f->chunkname = malloc(need)) == NULL)
            return -ENOMEM;
        snprintf(f->chunkname, need, "@%s%s%s", sl->label, sl->label[0] ? "/" : "",
                 f->name);
        /* NAME.lua is module NAME when NAME is letters, digits and '_'. */
        f->module[0] = '\0';
        if (is_policy_name(f->name) && len - 4 <= MODULE_NAME_MAX &&
            sl_lua_name_chars(f->name, len - 4))
            snprintf(f->module, sizeof f->module, "%.*s", (int)(len - 4), f->name);
    }
    return 0;
}

/* One file's top level; skipped when require ran it already. */
static int run_file_body(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);
    const struct policy_file *f = lua_touserdata(L, 1);

    if (f->module[0] != '\0') {
        lua_rawgeti(L, LUA_REGISTRYINDEX, sl->modules_ref);
        if (lua_getfield(L, -1, f->module) != LUA_TNIL)
            return 0;
        lua_pop(L, 2);
    }
    sl_lua_run_module(L, sl, f);
    return 0;
}

/* Run the top level of every file marked run, each on its own budget. */
static int run_files(struct sl_lua *sl, char *err, size_t errlen)
{
    size_t i;
    int rc;

    if ((rc = name_files(sl)) < 0) {
        sl_lua_set_err(err, errlen, "%s: out of memory", sl->label);
        return rc;
    }
    for (i = 0; i < sl->nfiles; i++) {
        if (!sl->files[i].run)
            continue;
        sl_copy(sl->where, sizeof sl->where, sl->files[i].chunkname + 1);
        if ((rc = sl_lua_protect(sl, run_file_body, &sl->files[i], err, errlen)) < 0)
            return rc;
    }
    sl_copy(sl->where, sizeof sl->where, sl->label);
    return 0;
}

/* The version and the file list of sl->files. */
static int describe_files(struct sl_lua *sl, char *err, size_t errlen)
{
    uint8_t digest[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];
    struct sl_sha256 all;
    size_t i;

    sl_sha256_init(&all);
    for (i = 0; i < sl->nfiles; i++) {
        const struct policy_file *f = &sl->files[i];
        json_t *entry;

        sl_sha256_update(&all, f->name, strlen(f->name) + 1);
        sl_sha256_update(&all, f->data, f->len);
        sl_sha256_update(&all, "", 1);
        sl_sha256_hex(f->data, f->len, hex);
        entry = json_pack("{s:s, s:s}", "file", f->name, "sha256", hex);
        if (entry == NULL || json_array_append_new(sl->file_list, entry) < 0) {
            sl_lua_set_err(err, errlen, "%s/%s: the file name is not UTF-8", sl->label,
                           f->name);
            return -EINVAL;
        }
    }
    sl_sha256_final(&all, digest);
    sl_hex(digest, 6, sl->version);
    return 0;
}

/* Load src (taken: kept as the set's sources on success, freed otherwise). */
static int load_sources(struct sl_lua *sl, struct sl_lua_sources *src, char *err, size_t errlen)
{
    int rc;

    sl->loaded = true;
    sl_copy(sl->label, sizeof sl->label, src->label);
    if (src->n > 0)
        qsort(src->files, src->n, sizeof *src->files, by_name);
    sl->files = src->files;
    sl->nfiles = src->n;
    if ((rc = describe_files(sl, err, errlen)) == 0)
        rc = run_files(sl, err, errlen);
    /* Every file ran, and require serves from its cache from now on. */
    sl->files = NULL;
    sl->nfiles = 0;
    if (rc < 0) {
        sl->version[0] = '\0';
        sl_lua_sources_free(src);
    } else {
        sl->sources = src;
    }
    return rc;
}

int sl_lua_load_dir(struct sl_lua *sl, const char *dir, char *err, size_t errlen)
{
    struct sl_lua_sources *src;
    char label[sizeof sl->label];
    int rc;

    if (sl->loaded) {
        sl_lua_set_err(err, errlen, "%s: this sandbox has policies loaded already", dir);
        return -EALREADY;
    }
    base_name(dir, label, sizeof label);
    if ((src = sl_lua_sources_new(label)) == NULL) {
        sl->loaded = true;
        sl_lua_set_err(err, errlen, "%s: out of memory", dir);
        return -ENOMEM;
    }
    if ((rc = read_dir(dir, sl->mem_limit, &src->files, &src->n, err, errlen)) < 0) {
        sl->loaded = true;
        sl_lua_sources_free(src);
        return rc;
    }
    src->cap = src->n;
    return load_sources(sl, src, err, errlen);
}

/* }===================================================================== */

/* {====================== Sources in memory ============================ */

struct sl_lua_sources *sl_lua_sources_new(const char *label)
{
    struct sl_lua_sources *src = calloc(1, sizeof *src);

    if (src != NULL)
        sl_copy(src->label, sizeof src->label, label);
    return src;
}

void sl_lua_sources_free(struct sl_lua_sources *src)
{
    if (src == NULL)
        return;
    free_files(src->files, src->n);
    free(src);
}

int sl_lua_sources_add(struct sl_lua_sources *src, const char *name, const char *data,
                       size_t len)
{
    struct policy_file *f;
    size_t i;

    if (!is_policy_name(name) || strchr(name, '/') != NULL || strlen(name) > NAME_MAX)
        return -EINVAL;
    for (i = 0; i < src->n; i++)
        if (strcmp(src->files[i].name, name) == 0)
            return -EEXIST;
    if (sl_grow(&src->files, &src->cap, src->n + 1, sizeof *src->files) < 0)
        return -ENOMEM;
    f = &src->files[src->n];    /* zeroed by sl_grow */
    if ((f->name = strdup(name)) == NULL || (f->data = malloc(len + 1)) == NULL) {
        free(f->name);
        f->name = NULL;
        return -ENOMEM;
    }
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->len = len;
    f->run = true;
    src->n++;
    return 0;
}

struct sl_lua_sources *sl_lua_sources_of(const struct sl_lua *sl)
{
    const struct sl_lua_sources *from = sl->sources;
    struct sl_lua_sources *src = sl_lua_sources_new(from != NULL ? from->label : sl->label);
    size_t i;

    for (i = 0; src != NULL && from != NULL && i < from->n; i++) {
        const struct policy_file *f = &from->files[i];

        if (sl_lua_sources_add(src, f->name, f->data, f->len) < 0) {
            sl_lua_sources_free(src);
            src = NULL;
        }
    }
    return src;
}

int sl_lua_sources_each(const struct sl_lua_sources *src,
                        int (*fn)(void *arg, const char *name, const char *data, size_t len),
                        void *arg)
{
    for (size_t i = 0; src != NULL && i < src->n; i++) {
        int rc = fn(arg, src->files[i].name, src->files[i].data, src->files[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

int sl_lua_load_sources(struct sl_lua *sl, const struct sl_lua_sources *src, char *err,
                        size_t errlen)
{
    struct sl_lua_sources *copy;
    size_t i;

    if (sl->loaded) {
        sl_lua_set_err(err, errlen, "%s: this sandbox has policies loaded already",
                       src->label);
        return -EALREADY;
    }
    copy = sl_lua_sources_new(src->label);
    for (i = 0; copy != NULL && i < src->n; i++) {
        const struct policy_file *f = &src->files[i];

        if (sl_lua_sources_add(copy, f->name, f->data, f->len) < 0) {
            sl_lua_sources_free(copy);
            copy = NULL;
        }
    }
    if (copy == NULL) {
        sl->loaded = true;
        sl_lua_set_err(err, errlen, "%s: out of memory", src->label);
        return -ENOMEM;
    }
    return load_sources(sl, copy, err, errlen);
}

/* }===================================================================== */

/* {====================== Checking one script ========================== */

/* The checked text stands in for the directory's file of the same name,
 * or joins the set; it alone runs. */
static int add_source(struct sl_lua *sl, const char *name, const char *src, size_t len)
{
    struct policy_file *f = NULL, *grown;
    size_t i;

    for (i = 0; i < sl->nfiles; i++) {
        sl->files[i].run = false;
        if (strcmp(sl->files[i].name, name) == 0)
            f = &sl->files[i];
    }
    if (f == NULL) {
        if ((grown = realloc(sl->files, (sl->nfiles + 1) * sizeof *grown)) == NULL)
            return -ENOMEM;
        sl->files = grown;
        f = &sl->files[sl->nfiles];
        memset(f, 0, sizeof *f);
        if ((f->name = strdup(name)) == NULL)
            return -ENOMEM;
        sl->nfiles++;
    }
    free(f->data);
    if ((f->data = malloc(len + 1)) == NULL)
        return -ENOMEM;
    memcpy(f->data, src, len);
    f->data[len] = '\0';
    f->len = len;
    f->run = true;
    return 0;
}

int sl_lua_check(const char *name, const char *src, size_t len, const char *dir,
                 const struct sl_lua_limits *limits, char *err, size_t errlen)
{
    struct sl_lua *sl;
    char base[128];
    int rc = 0;

    base_name(name != NULL && name[0] != '\0' ? name : "check.lua", base, sizeof base);
    if ((sl = sl_lua_new(limits)) == NULL) {
        rc = -errno;
        sl_lua_set_err(err, errlen, "%s: %s", base, strerror(errno));
        return rc;
    }
    sl->loaded = true;
    if (dir != NULL) {
        base_name(dir, sl->label, sizeof sl->label);
        rc = read_dir(dir, sl->mem_limit, &sl->files, &sl->nfiles, err, errlen);
    }
    if (rc == 0 && (rc = add_source(sl, base, src, len)) < 0)
        sl_lua_set_err(err, errlen, "%s: out of memory", base);
    if (rc == 0)
        rc = run_files(sl, err, errlen);
    free_files(sl->files, sl->nfiles);
    sl->files = NULL;
    sl->nfiles = 0;
    sl_lua_free(sl);
    return rc;
}

/* }===================================================================== */
