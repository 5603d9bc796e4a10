/* SPDX-License-Identifier: MIT */
/* seccomp_run: run a program under sluiced.service's system call filter, outside systemd. */

/*
 * systemd is not PID 1 on every machine that runs the tests, so this harness
 * does what the unit's filter lines do, with libseccomp, then execs the
 * program:
 *
 *   SystemCallFilter=@system-service ~@privileged @resources
 *                     an allow-list, read from a file of names (the test
 *                     computes it from `systemd-analyze syscall-filter`);
 *   SystemCallErrorNumber=EPERM
 *                     every other call fails with EPERM, as under the unit,
 *                     but through a user notification, so that this harness
 *                     (the parent) can name each one before answering EPERM;
 *   SystemCallArchitectures=native, NoNewPrivileges=yes, UMask=0077,
 *   RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 (EAFNOSUPPORT),
 *   MemoryDenyWriteExecute=yes (no writable and executable mapping).
 *
 * The parent forwards SIGHUP, SIGINT and SIGTERM to the program, exits with
 * its status, and ends with one line naming every denied call, or saying
 * none was. With --user UID:GID (when run as root) the program runs as that
 * user, as under DynamicUser=.
 *
 *   seccomp_run [--user UID:GID] --allow FILE -- PROGRAM [ARG...]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#define MAX_DENIED 64

static volatile sig_atomic_t child_pid;

static void die(const char *what)
{
    fprintf(stderr, "seccomp_run: %s: %s\n", what, strerror(errno));
    exit(125);
}

/* {====================== The filters (in the child) ====================== */

/* The allow-list: every name in the file that this architecture knows
 * (systemd's groups list calls of every architecture). Anything else goes
 * to the parent, which answers EPERM. */
static scmp_filter_ctx allow_list(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[128];
    scmp_filter_ctx ctx;
    int n = 0;

    if (!f)
        die(file);
    ctx = seccomp_init(SCMP_ACT_NOTIFY);
    if (!ctx) {
        fprintf(stderr, "seccomp_run: seccomp_init failed\n");
        exit(125);
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, " \t\r\n#")] = '\0';
        if (!line[0])
            continue;
        int nr = seccomp_syscall_resolve_name(line);
        if (nr == __NR_SCMP_ERROR)
            continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc < 0) {
            fprintf(stderr, "seccomp_run: cannot allow %s: %s\n", line, strerror(-rc));
            exit(125);
        }
        n++;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "seccomp_run: %s allows no system call of this architecture\n", file);
        exit(125);
    }
    return ctx;
}

/* A comparison with every field set: SCMP_A0(SCMP_CMP_EQ, x) leaves datum_b
 * out, which clang's -Wmissing-field-initializers refuses. */
static struct scmp_arg_cmp arg(unsigned int n, enum scmp_compare op, scmp_datum_t a,
                               scmp_datum_t b)
{
    struct scmp_arg_cmp c = { .arg = n, .op = op, .datum_a = a, .datum_b = b };
    return c;
}

static void add(scmp_filter_ctx ctx, int errnum, int nr, unsigned n, struct scmp_arg_cmp cmp)
{
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, n, cmp);
    if (rc < 0) {
        fprintf(stderr, "seccomp_run: cannot add a rule for %d: %s\n", nr, strerror(-rc));
        exit(125);
    }
}

/* What systemd filters by argument: address families and W^X mappings.
 * Kept in its own filter, as systemd does; the kernel applies the most
 * restrictive answer of all filters. */
static scmp_filter_ctx by_argument(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

    if (!ctx) {
        fprintf(stderr, "seccomp_run: seccomp_init failed\n");
        exit(125);
    }
    /* RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6: one rule per other
     * family, since a rule compares an argument once. */
    for (int af = 0; af < AF_MAX; af++)
        if (af != AF_UNIX && af != AF_INET && af != AF_INET6)
            add(ctx, EAFNOSUPPORT, SCMP_SYS(socket), 1, arg(0, SCMP_CMP_EQ, (scmp_datum_t)af, 0));
    add(ctx, EAFNOSUPPORT, SCMP_SYS(socket), 1, arg(0, SCMP_CMP_GE, AF_MAX, 0));
    /* MemoryDenyWriteExecute=yes */
    add(ctx, EPERM, SCMP_SYS(mmap), 1,
        arg(2, SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC));
    add(ctx, EPERM, SCMP_SYS(mprotect), 1, arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    add(ctx, EPERM, SCMP_SYS(pkey_mprotect), 1, arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    add(ctx, EPERM, SCMP_SYS(shmat), 1, arg(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC));
    return ctx;
}

static void send_fd(int sock, int fd)
{
    char data = 'f';
    struct iovec iov = { .iov_base = &data, .iov_len = 1 };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *c;

    memset(&u, 0, sizeof(u));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &msg, 0) != 1)
        die("sending the notification descriptor");
}

static void child(int sock, const char *allow, uid_t uid, gid_t gid, char **argv)
{
    scmp_filter_ctx ctx;
    int rc;

    if (uid != (uid_t)-1 && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
        die("dropping to --user");
    /* After the credentials change, which would clear it: a harness killed
     * by a test's timeout takes the program with it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        die("PR_SET_PDEATHSIG");
    umask(077);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("PR_SET_NO_NEW_PRIVS");

    ctx = by_argument();
    if ((rc = seccomp_load(ctx)) < 0) {
        fprintf(stderr, "seccomp_run: loading the argument filter: %s\n", strerror(-rc));
        exit(125);
    }
    seccomp_release(ctx);

    /* Last: from here on, a call outside the list waits for the parent, so
     * only calls the list has may come before the descriptor is sent. */
    ctx = allow_list(allow);
    if ((rc = seccomp_load(ctx)) < 0) {
        fprintf(stderr, "seccomp_run: loading the allow-list: %s\n", strerror(-rc));
        exit(125);
    }
    int fd = seccomp_notify_fd(ctx);
    if (fd < 0) {
        fprintf(stderr, "seccomp_run: no notification descriptor\n");
        exit(125);
    }
    send_fd(sock, fd);
    close(fd);
    close(sock);
    execvp(argv[0], argv);
    fprintf(stderr, "seccomp_run: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* }======================================================================== */

/* {====================== The supervisor (the parent) ===================== */

static int recv_fd(int sock)
{
    char data;
    struct iovec iov = { .iov_base = &data, .iov_len = 1 };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *c;
    int fd;

    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static char denied[MAX_DENIED][64];
static int ndenied;

static void note_denied(const char *name)
{
    for (int i = 0; i < ndenied; i++)
        if (strcmp(denied[i], name) == 0)
            return;
    if (ndenied < MAX_DENIED)
        snprintf(denied[ndenied++], sizeof(denied[0]), "%s", name);
}

/* One call outside the list: name it, answer EPERM as the unit would. */
static void answer(int fd, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    char num[32];
    const char *name;
    char *resolved;

    memset(req, 0, sizeof(*req));
    if (seccomp_notify_receive(fd, req) < 0)
        return;     /* the caller died meanwhile */
    resolved = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
    snprintf(num, sizeof(num), "#%d", req->data.nr);
    name = resolved ? resolved : num;
    fprintf(stderr, "seccomp_run: denied %s (pid %u): EPERM\n", name, req->pid);
    note_denied(name);
    free(resolved);
    memset(resp, 0, sizeof(*resp));
    resp->id = req->id;
    resp->error = -EPERM;
    seccomp_notify_respond(fd, resp);
}

static int supervise(int nfd, pid_t pid)
{
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    int status;

    if (seccomp_notify_alloc(&req, &resp) < 0) {
        fprintf(stderr, "seccomp_run: seccomp_notify_alloc failed\n");
        kill(pid, SIGKILL);
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            die("waitpid");
        struct pollfd p = { .fd = nfd, .events = POLLIN };
        int n = poll(&p, nfd >= 0 ? 1 : 0, 100);
        if (n > 0 && (p.revents & POLLIN) && req)
            answer(nfd, req, resp);
        else if (n > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
            close(nfd);     /* no task under the filter is left */
            nfd = -1;
        }
    }
    seccomp_notify_free(req, resp);
    if (ndenied == 0) {
        fprintf(stderr, "seccomp_run: no system call was denied\n");
    } else {
        fprintf(stderr, "seccomp_run: denied system calls:");
        for (int i = 0; i < ndenied; i++)
            fprintf(stderr, " %s", denied[i]);
        fprintf(stderr, "\n");
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "seccomp_run: the program was killed by signal %d\n", WTERMSIG(status));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

/* }======================================================================== */

static void usage(void)
{
    fprintf(stderr, "usage: seccomp_run [--user UID:GID] --allow FILE -- PROGRAM [ARG...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *allow = NULL;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    int i, sv[2];

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--allow") == 0 && i + 1 < argc) {
            allow = argv[++i];
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            unsigned long u, g;
            if (sscanf(argv[++i], "%lu:%lu", &u, &g) != 2)
                usage();
            if (geteuid() == 0) {
                uid = (uid_t)u;
                gid = (gid_t)g;
            }
        } else {
            usage();
        }
    }
    if (!allow || i + 1 >= argc)
        usage();
    if (seccomp_api_get() < 5) {
        fprintf(stderr, "seccomp_run: libseccomp or the kernel lacks user notification "
                        "(API level %u, 5 needed)\n", seccomp_api_get());
        return 77;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");

    struct sigaction sa = { .sa_handler = forward };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(sv[0]);
        signal(SIGHUP, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        child(sv[1], allow, uid, gid, argv + i + 1);
    }
    child_pid = pid;
    close(sv[1]);
    int nfd = recv_fd(sv[0]);
    close(sv[0]);
    if (nfd < 0)
        fprintf(stderr, "seccomp_run: no notification descriptor from the child; "
                        "denied calls will not be named\n");
    return supervise(nfd, pid);
}
