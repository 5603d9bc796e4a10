# SPDX-License-Identifier: MIT
# dist/nginx-sluice.conf: Debian's nginx accepts it (nginx -t), and, run for
# real in front of sluiced on its UNIX socket, it serves the API over TLS,
# redirects plain HTTP, passes the console's CSP through and answers its
# own refusals in the API's JSON. Skipped (77) without nginx or openssl
# (apt-get install nginx-light openssl), unless SLUICE_REQUIRE_NGINX=1.
import http.client
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st


def skip(why):
    if os.environ.get("SLUICE_REQUIRE_NGINX") == "1":
        print("FAIL %s (SLUICE_REQUIRE_NGINX=1)" % why)
        sys.exit(1)
    print("nginx_edge: skipped: %s" % why)
    sys.exit(st.SKIP)


def find(name):
    return shutil.which(name) or next((p for p in ("/usr/sbin/" + name, "/sbin/" + name)
                                       if os.access(p, os.X_OK)), None)


def edge_conf(t, sock, https_port, http_port):
    """The shipped file, pointed at this test's socket, ports and certificate."""
    with open(os.path.join(st.srcdir(), "dist", "nginx-sluice.conf")) as f:
        text = f.read()
    subs = [("unix:/run/sluice/sluiced.sock", "unix:" + sock),
            ("/etc/ssl/sluice/fullchain.pem", os.path.join(t.tmp, "cert.pem")),
            ("/etc/ssl/sluice/privkey.pem", os.path.join(t.tmp, "key.pem")),
            ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % https_port),
            ("listen [::]:443 ssl http2;", ""),
            ("listen 80;", "listen 127.0.0.1:%d;" % http_port),
            ("listen [::]:80;", "")]
    for old, new in subs:
        if old not in text:
            raise st.Failed("dist/nginx-sluice.conf no longer has %r" % old)
        text = text.replace(old, new)
    return text


def main_conf(t):
    tmp = t.tmp
    return """daemon off;
master_process off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    include %(tmp)s/sluice-edge.conf;
}
""" % {"tmp": tmp}


def https(port, method, path, token=None, body=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    try:
        h = {"Host": "sluice.example.com"}
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return st.Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        c.close()


def body(t):
    nginx, openssl = find("nginx"), find("openssl")
    if not nginx:
        skip("no nginx")
    if not openssl:
        skip("no openssl to make a test certificate")
    r = st.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=sluice.example.com", "-keyout", os.path.join(t.tmp, "key.pem"),
                "-out", os.path.join(t.tmp, "cert.pem")])
    t.require(r.returncode == 0, "openssl makes a self-signed certificate", r.stderr)

    sock = os.path.join(t.tmp, "sluiced.sock")
    https_port, http_port = st.free_port(), st.free_port()
    with open(os.path.join(t.tmp, "sluice-edge.conf"), "w") as f:
        f.write(edge_conf(t, sock, https_port, http_port))
    conf = os.path.join(t.tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(main_conf(t))
    r = st.run([nginx, "-t", "-p", t.tmp, "-c", conf])
    t.require(r.returncode == 0, "nginx -t accepts dist/nginx-sluice.conf", r.stderr)

    d = t.daemon(conf='unix_socket = "%s"\nconsole_dir = "%s/console"\nlog_level = "warn"\n'
                      % (sock, st.srcdir()))
    proc = subprocess.Popen([nginx, "-p", t.tmp, "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        up = None
        while time.monotonic() < deadline and up is None:
            try:
                up = https(https_port, "GET", "/healthz")
            except OSError:
                time.sleep(0.1)
        t.require(up is not None and up.status == 200 and up.json == {"status": "ok"},
                  "GET /healthz through nginx over TLS", up)
        t.check("max-age=" in up.headers.get("strict-transport-security", ""),
                "  ... with Strict-Transport-Security")
        r = https(https_port, "POST", "/v1/uploads", d.token, b'{"id":"edge-1","creator":"c1",'
                  b'"title":"through the edge"}')
        t.check(r.status == 202, "an upload through nginx and the UNIX socket", r)
        t.status(d.item("edge-1"), 200, "  ... is stored")
        r = https(https_port, "GET", "/console/")
        t.check(r.status == 200 and "frame-ancestors 'none'" in
                r.headers.get("content-security-policy", ""),
                "the console's CSP header comes through", r.headers)
        r = https(https_port, "POST", "/v1/uploads", d.token, b"x" * (2 * 1024 * 1024))
        t.check(r.status == 413 and (r.json or {}).get("error", {}).get("code") == "too_large",
                "a body over client_max_body_size: nginx answers the API's JSON 413", r)
        r = https(https_port, "GET", "/nothing/here")
        t.check(r.status == 404 and (r.json or {}).get("error", {}).get("code") == "not_found",
                "a path outside the API: JSON 404 at the edge", r)
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        c.request("GET", "/v1/status", headers={"Host": "sluice.example.com"})
        r = c.getresponse()
        t.check(r.status == 301 and r.getheader("Location", "").startswith("https://"),
                "plain HTTP is redirected to HTTPS", (r.status, r.getheaders()))
        c.close()
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    t.stopped(d)


st.main(body)
