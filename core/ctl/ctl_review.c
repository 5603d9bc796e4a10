/* SPDX-License-Identifier: MIT */
/* sluicectl review: a moderator's terminal loop, one key per decision. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "lib/clock.h"

#define REVIEW_POLL_MS 5000     /* an empty queue is asked again this often */
#define TEXT_SHOWN 2000         /* longer descriptions and transcripts are cut */

/*
 * One moderator at a terminal: claim an item, show it, act on single keys.
 * The terminal is in raw mode only inside this loop and is put back on every
 * way out, signals included (tcsetattr is async-signal-safe).
 */

static struct termios saved_tty;
static volatile sig_atomic_t tty_raw, redraw;

static void tty_set_raw(void)
{
    struct termios t = saved_tty;

    /* ISIG stays: Ctrl-C and Ctrl-Z reach the handlers below. */
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
    t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
        tty_raw = 1;
}

static void tty_restore(void)
{
    if (tty_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
        tty_raw = 0;
    }
}

static void on_signal(int sig)
{
    int saved = errno;
    sigset_t set;

    tty_restore();
    /* The handler runs with sig blocked: unblock it, or raise() would only
     * leave it pending for the handler again. */
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* Only a stop returns here, once the shell continues us. */
    signal(sig, on_signal);
    tty_set_raw();
    redraw = 1;
    errno = saved;
}

struct review {
    struct client *c;
    FILE *ui;                   /* the screen: stdout, or stderr under --json */
    const char *queue;          /* NULL: any queue */
    json_t *cur;                /* the claimed entry {id, fence, lease_until_ms, item} */
    const char *id;
    long long fence;
    double lease_s, lease_end;  /* seconds, on the monotonic clock */
    double last_key, next_poll;
    bool expired, empty;
    bool need_prompt;           /* something was printed since the prompt */
    char note[256];             /* said once the next item is on screen */
    json_t *done;               /* decisions made, for --json */
};

static void say(struct review *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line under the item; the prompt follows it again. */
static void say(struct review *r, const char *fmt, ...)
{
    va_list ap;

    fputs("\r\033[K", r->ui);
    va_start(ap, fmt);
    vfprintf(r->ui, fmt, ap);
    va_end(ap);
    fputs("\n", r->ui);
    fflush(r->ui);
    r->need_prompt = true;
}

static void prompt(struct review *r)
{
    r->need_prompt = false;
    fputs("\r\033[K", r->ui);
    if (r->cur && !r->expired)
        fputs("[a]pprove [r]eject [e]scalate [s]kip [n]ext [q]uit [?]help > ", r->ui);
    else
        fputs("[n]ext [q]uit [?]help > ", r->ui);
    fflush(r->ui);
}

static void field(struct review *r, const char *label, const char *text, size_t max)
{
    if (!text || !*text)
        return;
    fprintf(r->ui, "%-13s", label);
    sl_ctl_put_text(r->ui, text, max, true);
    fputc('\n', r->ui);
}

static void show(struct review *r)
{
    json_t *it = json_object_get(r->cur, "item"), *v;
    json_t *up = json_object_get(it, "upload");
    const char *k;
    size_t i;
    char b[32];
    FILE *o = r->ui;

    if (isatty(fileno(o)))
        fputs("\033[H\033[2J", o);
    json_t *verdict = json_object_get(it, "verdict");
    fprintf(o, "=== ");
    sl_ctl_put_text(o, r->id, 0, false);
    fprintf(o, "  [%s]  claim %s left ===\n", str(it, "state"),
            sl_ctl_span((long long)((r->lease_end - sl_mono()) * 1000), b, sizeof(b)));
    field(r, "title:", str(up, "title"), 1000);
    field(r, "creator:", str(it, "creator"), 0);
    field(r, "description:", str(up, "description"), TEXT_SHOWN);
    field(r, "transcript:", str(up, "transcript"), TEXT_SHOWN);
    fputs("tags:       ", o);
    json_object_foreach(json_object_get(it, "tags"), k, v) {
        fputc(' ', o);
        sl_ctl_put_text(o, k, 0, false);
        fprintf(o, " %.2f (%s)", json_number_value(json_object_get(v, "confidence")),
                str(v, "source"));
    }
    fputs(json_object_size(json_object_get(it, "tags")) ? "\n" : " none\n", o);
    json_array_foreach(json_object_get(it, "matches"), i, v) {
        fprintf(o, "match:       %s %s from %s: '", str(v, "kind"), str(v, "name"),
                str(v, "source"));
        sl_ctl_put_text(o, str(v, "detail"), 200, false);
        fprintf(o, "' score %.2f%s%s\n", json_number_value(json_object_get(v, "score")),
                *str(v, "field") ? " in the " : "", str(v, "field"));
    }
    json_array_foreach(json_object_get(it, "reasons"), i, v)
        field(r, "reason:", json_string_value(v), 500);
    if (json_is_object(verdict)) {
        fprintf(o, "verdict:     %s by %s", str(verdict, "state"), str(verdict, "actor"));
        if (*str(verdict, "queue"))
            fprintf(o, " (queue %s, priority %lld)", str(verdict, "queue"),
                    num(verdict, "priority"));
        fputc('\n', o);
        field(r, "  because:", str(verdict, "reason"), 500);
    }
    /* Who escalated it, and why, matters most to the next person. */
    json_array_foreach(json_object_get(it, "audit"), i, v)
        if (strcmp(str(v, "action"), "escalate") == 0) {
            fprintf(o, "escalated:   by %s: ", str(v, "actor"));
            sl_ctl_put_text(o, str(v, "reason"), 500, false);
            fputc('\n', o);
        }
    fflush(o);
    r->need_prompt = true;
}

static void drop(struct review *r)
{
    json_decref(r->cur);
    r->cur = NULL;
    r->id = NULL;
    r->expired = false;
}

/* Ask for one item; quiet when polling an empty queue. Returns EXIT_REFUSED
 * only when the daemon refuses (a wrong token, a bad queue name). */
static int claim(struct review *r, bool quiet)
{
    json_t *body = json_pack("{s:i}", "limit", 1), *res;

    if (r->queue)
        json_object_set_new(body, "queue", json_string(r->queue));
    drop(r);
    int rc = sl_ctl_call_as(r->c, EVHTTP_REQ_POST, "/v1/queue/claim", body, TIMEOUT_S, true, &res);
    json_decref(body);
    r->next_poll = sl_mono() + REVIEW_POLL_MS / 1000.0;
    if (rc) {
        r->empty = false;       /* no polling a daemon that is not there */
        r->need_prompt = true;
        return rc;
    }
    json_t *first = json_array_get(json_object_get(res, "items"), 0);
    if (first) {
        r->cur = json_incref(first);
        r->id = str(first, "id");
        r->fence = num(first, "fence");
        r->lease_s = (double)num(res, "lease_seconds");
        r->lease_end = sl_mono() + r->lease_s;
        r->empty = false;
        show(r);
        if (r->note[0])
            say(r, "%s", r->note);
    } else if (!quiet || !r->empty) {
        if (r->note[0])
            say(r, "%s", r->note);
        r->empty = true;
        say(r, "nothing to review%s%s right now; asking again every %ds (n: now, q: quit)",
            r->queue ? " in the queue " : "", r->queue ? r->queue : "", REVIEW_POLL_MS / 1000);
    }
    json_decref(res);
    r->note[0] = '\0';
    return 0;
}

/* A refusal of a decision or renewal, said plainly. */
static void lost(struct review *r, const struct reply *rep)
{
    json_t *v = json_loads(rep->body, 0, NULL);
    json_t *e = json_object_get(v, "error");
    const char *code = str(e, "code");

    if (strcmp(code, "lease_expired") == 0) {
        r->expired = true;
        say(r, "your claim expired; press n to claim again");
    } else if (strcmp(code, "conflict") == 0) {
        /* Someone claimed or decided it since: the item is not ours. */
        r->expired = true;
        say(r, "your claim expired; press n to claim again (%s)", str(e, "message"));
    } else {
        say(r, "refused: %d %s: %s", rep->status, code, str(e, "message"));
    }
    json_decref(v);
}

static int post_item(struct review *r, const char *what, json_t *body, struct reply *rep)
{
    char path[1024], pat[64];
    char *text = json_dumps(body, JSON_COMPACT);

    snprintf(pat, sizeof(pat), "/v1/items/%%s/%s", what);
    sl_ctl_id_path(path, sizeof(path), pat, r->id);
    int rc = sl_ctl_request(r->c, EVHTTP_REQ_POST, path, text, -1, TIMEOUT_S, rep);
    free(text);
    return rc;
}

static void decide(struct review *r, const char *decision, const char *reason)
{
    struct reply rep;
    json_t *body = json_pack("{s:s, s:I}", "decision", decision, "fence", (json_int_t)r->fence);

    if (reason)
        json_object_set_new(body, "reason", json_string(reason));
    int rc = post_item(r, "decision", body, &rep);
    json_decref(body);
    if (rc) {
        say(r, "the decision did not reach the daemon; press the key again to retry");
        return;
    }
    if (rep.status != 200) {
        lost(r, &rep);
        free(rep.body);
        return;
    }
    json_t *res = json_loads(rep.body, 0, NULL);
    snprintf(r->note, sizeof(r->note), "%s %s: now %s",
             strcmp(decision, "approve") == 0 ? "approved"
             : strcmp(decision, "reject") == 0 ? "rejected" : "escalated",
             r->id, str(res, "state"));
    json_array_append_new(r->done, json_pack("{s:s, s:s, s:s}", "id", r->id,
                          "decision", decision, "state", str(res, "state")));
    json_decref(res);
    free(rep.body);
    claim(r, false);
}

/* Keep the claim while the moderator is at it: renew past half the lease if
 * a key came within the last half; an idle claim is let go. */
static void tick(struct review *r)
{
    double now = sl_mono();
    struct reply rep;

    if (!r->cur && r->empty && now >= r->next_poll) {
        claim(r, true);
        return;
    }
    if (!r->cur || r->expired)
        return;
    if (now >= r->lease_end) {
        r->expired = true;
        say(r, "your claim expired; press n to claim again");
        return;
    }
    if (r->lease_end - now >= r->lease_s / 2 || now - r->last_key >= r->lease_s / 2)
        return;
    json_t *body = json_pack("{s:I}", "fence", (json_int_t)r->fence);
    int rc = post_item(r, "renew", body, &rep);
    json_decref(body);
    if (rc == 0 && rep.status == 200)
        r->lease_end = now + r->lease_s;
    else if (rc == 0)
        lost(r, &rep);
    free(rep.body);
}

/* One byte of input, waiting at most ms (and keeping the claim meanwhile);
 * -1 at end of input, 0 when none came. */
static int key(struct review *r, int ms, unsigned char *out)
{
    struct pollfd p = { STDIN_FILENO, POLLIN, 0 };

    if (redraw) {
        redraw = 0;
        if (r->cur)
            show(r);
        prompt(r);
    }
    int n = poll(&p, 1, ms);
    if (n <= 0)
        return 0;
    ssize_t got = read(STDIN_FILENO, out, 1);
    if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
        return -1;
    if (got == 1)
        r->last_key = sl_mono();
    return got == 1;
}

/* A line typed in raw mode, edited by hand; false when cancelled. */
static bool read_line(struct review *r, const char *label, char *buf, size_t len)
{
    size_t n = 0;
    unsigned char ch;

    fprintf(r->ui, "\r\033[K%s (Enter sends, Esc cancels): ", label);
    fflush(r->ui);
    for (;;) {
        int got = key(r, 1000, &ch);
        if (got < 0)
            return false;
        tick(r);
        if (got == 0)
            continue;
        if (ch == '\r' || ch == '\n') {
            buf[n] = '\0';
            fputs("\n", r->ui);
            return n > 0;
        }
        if (ch == 0x1b || (ch == 0x04 && n == 0)) {
            while (key(r, 0, &ch) > 0)      /* the rest of an arrow key */
                ;
            fputs("\n", r->ui);
            return false;
        }
        if (ch == 0x7f || ch == 0x08) {
            while (n > 0 && (buf[--n] & 0xc0) == 0x80)
                ;
            fputs("\b \b", r->ui);
        } else if (ch == 0x15) {
            for (; n > 0; n--)
                if ((buf[n - 1] & 0xc0) != 0x80)
                    fputs("\b \b", r->ui);
        } else if (ch >= 0x20 && n + 1 < len) {
            buf[n++] = (char)ch;
            fputc(ch, r->ui);
        }
        fflush(r->ui);
    }
}

static const char *const common_reasons[] = {
    "nudity or sexual content",
    "violence or gore",
    "hate speech or harassment",
    "a minor at risk",
    "spam or scam",
    "copyright infringement",
};
#define NREASONS ((int)(sizeof(common_reasons) / sizeof(common_reasons[0])))

static void reject(struct review *r)
{
    char line[1001];

    for (int i = 0; i < NREASONS; i++)
        fprintf(r->ui, "\r\033[K  %d  %s\n", i + 1, common_reasons[i]);
    if (!read_line(r, "reason: a number above or your own words", line, sizeof(line))) {
        say(r, "not rejected");
        return;
    }
    int pick = (int)strlen(line) == 1 && line[0] >= '1' && line[0] < '1' + NREASONS
                   ? line[0] - '1' : -1;
    decide(r, "reject", pick >= 0 ? common_reasons[pick] : line);
}

static void help(struct review *r)
{
    char b[32];

    say(r, "a approve  r reject (asks a reason)  e escalate (asks a reason)\r\n"
           "s skip: leave this item to its claim's end and take another\r\n"
           "n next: claim another item   q quit   ? this help");
    if (r->cur && !r->expired)
        say(r, "your claim on %s has %s left; it is renewed while you press keys", r->id,
            sl_ctl_span((long long)((r->lease_end - sl_mono()) * 1000), b, sizeof(b)));
}

/* Leave the current item, if any, to its lease and claim another. */
static void next(struct review *r, bool leaving)
{
    if (leaving)
        snprintf(r->note, sizeof(r->note), "left %s; its claim runs out by itself", r->id);
    if (claim(r, false))
        say(r, "could not claim an item (see above); n tries again");
}

/* One key of the main loop. */
static void act(struct review *r, unsigned char ch)
{
    char line[1001];
    bool live = r->cur && !r->expired;

    fputc('\n', r->ui);
    r->need_prompt = true;
    switch (ch) {
    case 'a':
    case 'r':
    case 'e':
    case 's':
        if (!live)
            say(r, "no item is yours now; press n to claim one");
        else if (ch == 'a')
            decide(r, "approve", NULL);
        else if (ch == 'r')
            reject(r);
        else if (ch == 'e' && read_line(r, "why escalate", line, sizeof(line)))
            decide(r, "escalate", line);
        else if (ch == 'e')
            say(r, "not escalated");
        else
            next(r, true);
        break;
    case 'n':
        next(r, live);
        break;
    case '?':
    case 'h':
        help(r);
        break;
    case '\r':
    case '\n':
        break;
    default:
        say(r, "'%c' is no command; ? lists them", isprint(ch) ? ch : '?');
    }
}

int sl_ctl_review(struct client *c, int argc, char **argv)
{
    struct args a;
    struct review r = { .c = c };
    unsigned char ch;
    int rc = sl_ctl_args(c, argc, argv, A_QUEUE, 0, 0, "review [--queue NAME]", &a);

    if (rc)
        return rc;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
        return usage_error(c, "review is interactive: its standard input must be a terminal");
    bool json = c->json;
    c->json = false;            /* errors in words only; the summary is the JSON */
    r.ui = json ? stderr : stdout;
    r.queue = a.queue;
    r.done = json_array();
    r.last_key = sl_mono();

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    tty_set_raw();
    atexit(tty_restore);

    /* Only the first claim may end the session: a refusal then means a
     * wrong token or queue name. Later failures are said, and n retries. */
    rc = claim(&r, false);
    while (rc == 0) {
        if (r.need_prompt)
            prompt(&r);
        int got = key(&r, 1000, &ch);
        if (got < 0 || (got && (ch == 'q' || ch == 'Q' || ch == 0x04)))
            break;
        if (got > 0)
            act(&r, ch);
        tick(&r);
    }
    tty_restore();
    if (rc == 0) {
        fputs("\n", r.ui);
        if (r.cur && !r.expired)
            fprintf(r.ui, "left %s; its claim runs out by itself\n", r.id);
        fprintf(r.ui, "%zu decisions made\n", json_array_size(r.done));
    }
    if (json && rc == 0) {
        json_t *out = json_pack("{s:O}", "decisions", r.done);
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    }
    drop(&r);
    json_decref(r.done);
    return rc;
}
