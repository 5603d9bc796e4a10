/* SPDX-License-Identifier: MIT */
/* sluicectl migrate: a stopped installation's whole store, copied to another backend. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl/ctl.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "store/audit_key.h"
#include "store/store.h"

/*
 * The one command that works on the store itself rather than through the
 * daemon: the installation is stopped, and the copy needs both stores at
 * once. `--from sqlite:PATH` is a state directory or its sluice.db;
 * `--to` a PostgreSQL connection string (or sqlite:DIR, for the way back).
 * The source's audit chain is verified first, the copy's after, on a
 * connection of its own, and both must end in the same record.
 *
 * The audit key is no part of either store: it stays in its file (the
 * source's STATE/audit.key, or --audit-key FILE), and the copy verifies
 * under it. A keyed chain without its key is not copied: nothing could
 * tell a rewritten one from the real one.
 */

#define VERIFY_PAGE 10000       /* records per page of a verification */

struct end {
    const char *store;          /* NULL: SQLite in dir */
    char dir[4096];
    const char *label;          /* what the output calls it: never a password */
};

/* The audit key, when there is one. */
struct key {
    char path[4200];            /* "" when none */
    uint8_t bytes[SL_AUDIT_KEY_LEN];
    int64_t keyed_from;
};

static bool postgres(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0 ||
           (strchr(s, '=') && strncmp(s, "sqlite:", 7) != 0);
}

/* sqlite:PATH (a directory, or a file named sluice.db) or a libpq string. */
static int parse_end(struct client *c, const char *what, const char *arg, bool source,
                     struct end *e)
{
    struct stat st;

    memset(e, 0, sizeof(*e));
    if (postgres(arg)) {
        e->store = arg;
        e->label = "PostgreSQL";
        return 0;
    }
    if (strncmp(arg, "sqlite:", 7) != 0 || !arg[7])
        return usage_error(c, "%s must be sqlite:PATH or a PostgreSQL connection string "
                           "(postgresql://... or \"host=... dbname=...\"), not '%s'", what, arg);
    const char *path = arg + 7;
    size_t len = strlen(path);
    e->label = arg;
    if (len >= 10 && strcmp(path + len - 10, "/sluice.db") == 0 && len - 10 < sizeof(e->dir)) {
        memcpy(e->dir, path, len - 10);
        e->dir[len - 10] = '\0';
    } else if (strcmp(path, "sluice.db") == 0) {
        strcpy(e->dir, ".");
    } else if (len < sizeof(e->dir)) {
        memcpy(e->dir, path, len + 1);
    } else {
        return usage_error(c, "%s: the path is too long", what);
    }
    if (stat(e->dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return sl_ctl_fail(c, EXIT_USAGE, "usage", "%s: %s is not a directory", what, e->dir);
    char db[4200];
    snprintf(db, sizeof(db), "%s/sluice.db", e->dir);
    bool exists = stat(db, &st) == 0;
    if (source && !exists)
        return sl_ctl_fail(c, EXIT_USAGE, "usage", "%s: there is no %s", what, db);
    if (!source && exists)
        return sl_ctl_fail(c, EXIT_REFUSED, "conflict", "%s: %s exists: a copy goes into "
                           "an empty store only", what, db);
    return 0;
}

/* --audit-key FILE, else the source's STATE/audit.key if it is there
 * (where sluiced makes it); none otherwise. 0, or the exit status said. */
static int load_key(struct client *c, const char *arg, const struct end *from, struct key *k)
{
    char err[1024];
    bool created;
    struct stat st;

    k->path[0] = '\0';
    if (arg) {
        snprintf(k->path, sizeof(k->path), "%s", arg);
    } else if (!from->store) {
        snprintf(k->path, sizeof(k->path), "%s/audit.key", from->dir);
        if (stat(k->path, &st) < 0) {
            k->path[0] = '\0';
            return 0;
        }
    } else {
        return 0;
    }
    if (sl_audit_key_load(k->path, 0, k->bytes, &k->keyed_from, &created, err, sizeof(err)) < 0)
        return sl_ctl_fail(c, arg ? EXIT_USAGE : EXIT_REFUSED, arg ? "usage" : "unavailable",
                           "--audit-key: %s", err);
    return 0;
}

/* The chain of the store at e, on a connection of its own, page by page;
 * its newest record in *head. */
static int verify(struct client *c, const struct end *e, const char *which,
                  const struct key *k, int64_t *checked, struct sl_audit_head *head)
{
    struct sl_store *s;
    struct sl_audit_check page = { .after = 0, .limit = VERIFY_PAGE };
    int rc;

    *checked = 0;
    if (sl_store_open(e->store, e->dir, e->store != NULL ? false : true, &s) < 0)
        return sl_ctl_fail(c, EXIT_REFUSED, "unavailable", "cannot open %s (%s) to verify it",
                           which, e->label);
    rc = sl_store_audit_head(s, head);
    if (rc == 0 && sl_store_audit_keyed(head->format) && !k->path[0]) {
        sl_store_free(s);
        return sl_ctl_fail(c, EXIT_REFUSED, "audit_key_missing", "%s (%s): the audit chain "
                           "is keyed, and no audit key was found: give its file with "
                           "--audit-key FILE (sluice.conf's audit_key_file, or the state "
                           "directory's audit.key)", which, e->label);
    }
    if (rc == 0 && k->path[0])
        rc = sl_store_audit_key(s, k->bytes, sizeof(k->bytes), k->keyed_from);
    while (rc == 0) {
        rc = sl_store_audit_verify(s, &page);
        *checked += page.checked;
        if (rc < 0 || !page.more)
            break;
        page.after = page.last_seq;
    }
    sl_store_free(s);
    if (rc == -EBADMSG)
        return sl_ctl_fail(c, EXIT_REFUSED, "audit_broken", "%s (%s): the audit chain breaks "
                           "at record %lld: %s (%lld records before it verify)", which,
                           e->label, (long long)page.bad_seq, page.problem, (long long)*checked);
    if (rc < 0)
        return sl_ctl_fail(c, EXIT_REFUSED, "unavailable", "%s (%s): the audit chain could "
                           "not be read", which, e->label);
    return 0;
}

int sl_ctl_migrate(struct client *c, int argc, char **argv)
{
    const char *from_arg = NULL, *to_arg = NULL, *key_arg = NULL;
    struct end from, to;
    struct key key;
    struct sl_store *src = NULL, *dst = NULL;
    struct sl_audit_head head_before, head_after;
    int64_t rows = 0, before = 0, after = 0;
    int rc;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from_arg = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            to_arg = argv[++i];
        else if (strcmp(argv[i], "--audit-key") == 0 && i + 1 < argc)
            key_arg = argv[++i];
        else
            return usage_error(c, "migrate --from SRC --to DST [--audit-key FILE]: "
                               "unexpected '%s'", argv[i]);
    }
    if (!from_arg || !to_arg)
        return usage_error(c, "migrate --from SRC --to DST [--audit-key FILE]: "
                           "both --from and --to are needed");
    if ((rc = parse_end(c, "--from", from_arg, true, &from)) != 0 ||
        (rc = parse_end(c, "--to", to_arg, false, &to)) != 0 ||
        (rc = load_key(c, key_arg, &from, &key)) != 0)
        return rc;

    /* Readers of PostgreSQL see one snapshot; SQLite's writer, its schema
     * brought up to date as sluiced would at start, keeps writers out. */
    rc = verify(c, &from, "the source", &key, &before, &head_before);
    if (rc != 0) {
        sl_memzero(key.bytes, sizeof(key.bytes));
        return rc;
    }
    if (sl_store_open(from.store, from.dir, from.store == NULL, &src) < 0)
        return sl_ctl_fail(c, EXIT_REFUSED, "unavailable", "cannot open the source (%s)",
                           from.label);
    if (sl_store_open(to.store, to.dir, true, &dst) < 0) {
        sl_store_free(src);
        return sl_ctl_fail(c, EXIT_REFUSED, "unavailable", "cannot open the destination (%s)",
                           to.label);
    }
    rc = sl_store_copy(src, dst, &rows);
    sl_store_free(dst);
    sl_store_free(src);
    if (rc == -EEXIST)
        return sl_ctl_fail(c, EXIT_REFUSED, "conflict", "the destination (%s) already holds "
                           "a sluice store: a copy goes into an empty database only", to.label);
    if (rc < 0)
        return sl_ctl_fail(c, EXIT_REFUSED, "unavailable", "the copy failed and nothing of it "
                           "was kept (see the messages above)");
    rc = verify(c, &to, "the copy", &key, &after, &head_after);
    sl_memzero(key.bytes, sizeof(key.bytes));
    if (rc != 0)
        return rc;
    if (after != before || head_after.seq != head_before.seq ||
        strcmp(head_after.hash, head_before.hash) != 0)
        return sl_ctl_fail(c, EXIT_REFUSED, "audit_broken", "the copy's audit chain (%lld "
                           "records, ending in record %lld) is not the source's (%lld, "
                           "ending in %lld)", (long long)after, (long long)head_after.seq,
                           (long long)before, (long long)head_before.seq);
    bool keyed = sl_store_audit_keyed(head_after.format);
    if (c->json) {
        json_t *out = json_pack("{s:s, s:s, s:I, s:I, s:b, s:b, s:s?}", "from", from.label,
                                "to", to.label, "rows", (json_int_t)rows,
                                "audit_records", (json_int_t)after, "audit_ok", 1,
                                "audit_keyed", keyed, "audit_key",
                                key.path[0] ? key.path : NULL);
        if (!out)
            return sl_ctl_fail(c, EXIT_REFUSED, "unavailable", "out of memory");
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("copied %lld rows from %s to %s; the audit chain verifies there "
               "(%lld records)\n", (long long)rows, from.label, to.label, (long long)after);
        /* The key is not in the copy: sluiced on the copy needs the file. */
        if (key.path[0])
            printf("the chain is keyed: sluiced on the copy needs the audit key %s "
                   "(audit_key_file, or audit.key in its state directory)\n", key.path);
    }
    return 0;
}
