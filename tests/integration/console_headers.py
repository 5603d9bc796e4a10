# SPDX-License-Identifier: MIT
# The console's headers: its Content-Security-Policy comes as a header that
# forbids framing and lets images come only from the configured thumbnail
# hosts (over HTTPS); the console reads those hosts from
# GET /v1/console/settings. Bad host names in the file are refused.
import sys
sys.dont_write_bytecode = True
import sluicetest as st


def csp(r):
    return {d.strip().split(" ")[0]: d.strip().split(" ")[1:]
            for d in r.headers.get("content-security-policy", "").split(";") if d.strip()}


def body(t):
    d = t.daemon(conf='thumbnail_hosts = { "thumbs.example.com", "*.cdn.example.net" }\n'
                      'console_dir = "%s/console"\nlog_level = "warn"\n' % st.srcdir())
    for path in ("/console/", "/console", "/console/app.js", "/console/style.css"):
        r = d.get(path, token=None)
        p = csp(r)
        t.check(r.status == 200 and p.get("frame-ancestors") == ["'none'"],
                "%s: CSP header with frame-ancestors 'none'" % path, r.headers)
        t.check(p.get("img-src") == ["'self'", "data:", "https://thumbs.example.com",
                                     "https://*.cdn.example.net"],
                "%s: img-src is 'self', data: and the two thumbnail hosts over HTTPS" % path,
                p.get("img-src"))
        t.check(p.get("script-src") == ["'self'"] and p.get("object-src") == ["'none'"] and
                p.get("default-src") == ["'self'"], "%s: scripts from sluiced only, no objects"
                % path, p)
        t.check(r.headers.get("x-frame-options") == "DENY", "%s: X-Frame-Options: DENY" % path)
        t.check(r.headers.get("referrer-policy") == "no-referrer",
                "%s: Referrer-Policy: no-referrer" % path)
    html = d.get("/console/", token=None).body.decode()
    t.check('http-equiv="Content-Security-Policy"' not in html,
            "index.html has no meta CSP that could be looser than the header")
    t.error(d.get("/console/nope.js", token=None), 404, "not_found", "a console file not there")

    r = d.get("/v1/console/settings")
    t.check(r.status == 200 and r.json == {"thumbnail_hosts": ["thumbs.example.com",
                                                               "*.cdn.example.net"]},
            "GET /v1/console/settings lists the thumbnail hosts", r)
    t.error(d.get("/v1/console/settings", token=None), 401, "unauthorized",
            "the settings need a token")
    t.stopped(d)

    # No hosts (the default): no image from anywhere but sluiced.
    d = t.daemon(conf='console_dir = "%s/console"\n' % st.srcdir(), name="none")
    p = csp(d.get("/console/", token=None))
    t.check(p.get("img-src") == ["'self'", "data:"], "by default img-src is 'self' data: only",
            p.get("img-src"))
    t.check(d.get("/v1/console/settings").json == {"thumbnail_hosts": []},
            "by default the settings list no host")
    t.stopped(d)

    for value, what in (('{ "https://thumbs.example.com" }', "a scheme"),
                        ('{ "thumbs.example.com/path" }', "a path"),
                        ('{ "thumbs.example.com:8443" }', "a port"),
                        ('{ "Thumbs.Example.com" }', "capitals"),
                        ('{ "*" }', "a bare wildcard"),
                        ('{ "a.*.example.com" }', "a wildcard inside"),
                        ('{ "x; script-src *" }', "a CSP injection"),
                        ('{ 5 }', "a number"),
                        ('"thumbs.example.com"', "a string, not a list")):
        bad = t.daemon(conf="\nthumbnail_hosts = %s\n" % value, name="bad%d" % len(t.daemons),
                       start=False)
        r = st.run([st.program("sluiced"), "--check-config", "-c", bad.conf])
        t.check(r.returncode == 1 and ":2:" in r.stderr and "thumbnail_hosts" in r.stderr,
                "--check-config refuses a thumbnail host with %s" % what,
                (r.returncode, r.stderr.strip()))


st.main(body)
