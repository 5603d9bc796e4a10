/* SPDX-License-Identifier: MIT */
/* The audit key: kept outside the database, loaded or made at start, handed to the store. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/audit_key.h"
#include "store/store.h"

/* Say what failed with the file's name; returns rc. */
static int fail(char *err, size_t errlen, int rc, const char *what, const char *path,
                const char *why)
{
    snprintf(err, errlen, "%s %s: %s", what, path, why);
    return rc;
}

/* fsync the directory holding path, so that a new file's name is durable. */
static int sync_dir(const char *path)
{
    char dir[4096];
    sl_copy(dir, sizeof(dir), path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int make_key(const char *path, int64_t keyed_from, char *err, size_t errlen)
{
    uint8_t raw[SL_AUDIT_KEY_LEN];
    char text[2 * SL_AUDIT_KEY_LEN + 40];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return fail(err, errlen, -EIO, "cannot make the audit key", path, "no randomness");
    sl_hex(raw, sizeof(raw), text);
    sl_memzero(raw, sizeof(raw));
    size_t len = strlen(text);
    snprintf(text + len, sizeof(text) - len, "\nfrom %lld\n", (long long)keyed_from);
    len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = 0;
    if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, text, len) != (ssize_t)len ||
        fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        rc = sync_dir(path);
    sl_memzero(text, sizeof(text));
    if (rc < 0) {
        if (fd >= 0)
            unlink(path);
        return fail(err, errlen, rc, "cannot write the audit key", path, strerror(-rc));
    }
    return 0;
}

/* "64 hex digits [from N]" into key and *keyed_from. */
static int parse_key(char *text, uint8_t key[SL_AUDIT_KEY_LEN], int64_t *keyed_from)
{
    char *p = text, *end;

    while (isspace((unsigned char)*p))
        p++;
    for (size_t i = 0; i < SL_AUDIT_KEY_LEN; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)p[2 * i]) || !isxdigit((unsigned char)p[2 * i + 1]) ||
            sscanf(p + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        key[i] = (uint8_t)v;
    }
    p += 2 * SL_AUDIT_KEY_LEN;
    if (*p && !isspace((unsigned char)*p))
        return -EINVAL;
    while (isspace((unsigned char)*p))
        p++;
    *keyed_from = 1;
    if (strncmp(p, "from", 4) == 0 && isspace((unsigned char)p[4])) {
        errno = 0;
        long long n = strtoll(p + 5, &end, 10);
        if (errno || end == p + 5 || n < 1)
            return -EINVAL;
        *keyed_from = n;
        for (p = end; isspace((unsigned char)*p); p++)
            ;
    }
    return *p ? -EINVAL : 0;
}

int sl_audit_key_load(const char *path, int64_t keyed_from_new,
                      uint8_t key[SL_AUDIT_KEY_LEN], int64_t *keyed_from, bool *created,
                      char *err, size_t errlen)
{
    char buf[256];
    struct stat st;
    int rc;

    *created = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && keyed_from_new > 0) {
        if ((rc = make_key(path, keyed_from_new, err, errlen)) < 0)
            return rc;
        *created = true;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return fail(err, errlen, -errno, "cannot read the audit key", path, strerror(errno));
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        sl_warn("audit: the key %s may be read or written by others (mode %03o): "
                "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return fail(err, errlen, -EIO, "cannot read the audit key", path, strerror(errno));
    buf[n] = '\0';
    rc = parse_key(buf, key, keyed_from);
    sl_memzero(buf, sizeof(buf));
    if (rc < 0)
        return fail(err, errlen, rc, "the audit key", path,
                    "it is not 64 hex digits (32 bytes), then optionally 'from N'");
    return 0;
}

int sl_audit_key_start(struct sl_store *writer, struct sl_store *reader, const char *path,
                       bool may_create, char *err, size_t errlen)
{
    struct sl_audit_head h;
    uint8_t key[SL_AUDIT_KEY_LEN];
    int64_t keyed_from;
    bool created;
    int rc = sl_store_audit_head(writer, &h);

    if (rc < 0) {
        snprintf(err, errlen, "cannot read the audit trail's newest record");
        return rc;
    }
    /* A keyed trail without its key: refuse rather than start a new key
     * that every keyed record so far would fail; a key an operator placed
     * elsewhere is theirs to restore. */
    bool create = may_create && !sl_store_audit_keyed(h.format);
    if ((rc = sl_audit_key_load(path, create ? h.seq + 1 : 0, key, &keyed_from, &created,
                                err, errlen)) < 0) {
        if (rc == -ENOENT)
            snprintf(err, errlen, "the audit key %s is missing: %s", path,
                     sl_store_audit_keyed(h.format)
                     ? "the trail is keyed; restore the key from where it was kept (a new "
                       "key would fail every keyed record)"
                     : "restore it, or leave audit_key_file unset for sluiced to make one "
                       "in the state directory");
        return rc;
    }
    rc = sl_store_audit_key(writer, key, sizeof(key), keyed_from);
    if (rc == 0)
        rc = sl_store_audit_key(reader, key, sizeof(key), keyed_from);
    sl_memzero(key, sizeof(key));
    if (rc < 0)
        return fail(err, errlen, rc, "cannot use the audit key", path, strerror(-rc));
    if (!created)
        return 0;
    sl_info("audit: made the key %s (mode 0600); keep a copy apart from the database",
            path);
    if (h.seq == 0)
        return 0;
    /* Records so far are plain: the first keyed one says where keying starts. */
    struct sl_audit_rec rec = {
        .actor = "system",
        .action = "audit_keyed",
        .reason = "records from here on are keyed (HMAC-SHA-256); those before are SHA-256",
        .ts_ms = sl_now_ms(),
    };
    if ((rc = sl_store_begin(writer)) < 0 || (rc = sl_store_audit_append(writer, &rec)) < 0 ||
        (rc = sl_store_commit(writer)) < 0) {
        sl_store_rollback(writer);
        snprintf(err, errlen, "cannot append the record that starts the keyed audit chain");
        return rc;
    }
    sl_info("audit: the chain is keyed from record %lld on", (long long)keyed_from);
    return 0;
}
