# SPDX-License-Identifier: MIT
# /metrics: Prometheus text 0.0.4 with the documented families, route labels
# that are route templates, and counters that move with requests.
import re
import sys
sys.dont_write_bytecode = True
import sluicetest as st

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse(text):
    """-> (samples [(name, {label: value}, float)], types {family: type}, bad lines)."""
    samples, types, bad = [], {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(r"# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$", line)
            if m:
                types[m.group(1)] = m.group(2)
            elif not line.startswith("# HELP "):
                bad.append(line)
            continue
        m = SAMPLE.match(line)
        if not m:
            bad.append(line)
            continue
        labels, rest = {}, m.group(3) or ""
        while rest:
            lm = LABEL.match(rest)
            if not lm:
                bad.append(line)
                break
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        try:
            value = float(m.group(4))
        except ValueError:
            bad.append(line)
            continue
        samples.append((m.group(1), labels, value))
    return samples, types, bad


def total(samples, name, **match):
    """Sum of a family's samples whose labels satisfy match (value or callable)."""
    s = 0.0
    for n, labels, v in samples:
        if n != name:
            continue
        ok = True
        for k, want in match.items():
            got = labels.get(k)
            ok = ok and (want(got) if callable(want) else got == want)
        if ok:
            s += v
    return s


def uploads_route(r):
    return r is not None and "uploads" in r


def events_route(r):
    return r is not None and "events" in r


def body(t):
    d = t.daemon()

    def scrape():
        r = d.get("/metrics")
        t.require(r.status == 200, "GET /metrics -> 200", r)
        return r, parse(r.body.decode("utf-8"))

    r, (samples, types, bad) = scrape()
    ctype = r.headers.get("content-type", "")
    t.check(ctype.startswith("text/plain") and "0.0.4" in ctype,
            "Content-Type is text/plain; version=0.0.4", ctype)
    t.check(not bad, "every line is a valid sample, # HELP or # TYPE", bad[:5])
    for fam, typ in (("sluice_http_requests_total", "counter"),
                     ("sluice_http_request_duration_seconds", "histogram"),
                     ("sluice_store_commits_total", "counter"),
                     ("sluice_store_commit_batch_size", "histogram"),
                     ("sluice_store_commit_seconds", "histogram"),
                     ("sluice_uploads_total", "counter"),
                     ("sluice_events_total", "counter"),
                     ("sluice_items", "gauge")):
        t.check(types.get(fam) == typ, "# TYPE %s %s" % (fam, typ), types.get(fam))

    before = samples
    n_up, n_ev = 3, 7
    for i in range(n_up):
        t.status(d.post("/v1/uploads", st.upload("m%d" % i)), 202, "upload m%d" % i)
    t.error(d.post("/v1/uploads", {"creator": "c1"}), 422, "invalid", "one refused upload")
    ev = "\n".join('{"item":"m0","user":"u1","type":"play"}' for _ in range(n_ev)) + "\n"
    t.status(d.post("/v1/events", ev, ctype="application/x-ndjson"), 202, "7 events")
    t.error(d.item("secret-item-id-4711"), 404, "not_found", "GET an unknown item")

    r, (after, types, bad) = scrape()
    text = r.body.decode("utf-8")

    def delta(name, **match):
        return total(after, name, **match) - total(before, name, **match)

    t.check(delta("sluice_http_requests_total", route=uploads_route, code="202") == n_up,
            "sluice_http_requests_total{route=~uploads,code=202} grew by %d" % n_up,
            delta("sluice_http_requests_total", route=uploads_route, code="202"))
    t.check(delta("sluice_http_requests_total", route=uploads_route, code="422") == 1,
            "sluice_http_requests_total{route=~uploads,code=422} grew by 1",
            delta("sluice_http_requests_total", route=uploads_route, code="422"))
    t.check(delta("sluice_http_requests_total", route=events_route, code="202") == 1,
            "sluice_http_requests_total{route=~events,code=202} grew by 1")
    t.check(delta("sluice_http_request_duration_seconds_count", route=uploads_route)
            == n_up + 1, "duration histogram _count for uploads grew by %d" % (n_up + 1),
            delta("sluice_http_request_duration_seconds_count", route=uploads_route))
    infs = [(lab, v) for n, lab, v in after
            if n == "sluice_http_request_duration_seconds_bucket" and lab.get("le") == "+Inf"]
    t.check(infs, "the duration histogram has +Inf buckets", infs[:3])
    for lab, v in infs:
        cnt = total(after, "sluice_http_request_duration_seconds_count", route=lab.get("route"))
        if v != cnt:
            t.check(False, "bucket +Inf equals _count for route %s" % lab.get("route"), (v, cnt))
    t.check(delta("sluice_uploads_total") == n_up, "sluice_uploads_total grew by %d" % n_up,
            delta("sluice_uploads_total"))
    t.check(delta("sluice_events_total") == n_ev, "sluice_events_total grew by %d" % n_ev,
            delta("sluice_events_total"))
    t.check(delta("sluice_store_commits_total") >= 1, "sluice_store_commits_total grew")
    t.check(total(after, "sluice_items") >= n_up,
            "sluice_items over all states counts at least the %d items" % n_up,
            total(after, "sluice_items"))
    # The allocator's gauges: jemalloc as built by default; glibc's
    # mallinfo2 in builds --without-jemalloc (a sanitizer's allocator may
    # hide the glibc figures, so only their order is checked there).
    for fam in ("sluice_heap_allocator", "sluice_heap_allocated_bytes",
                "sluice_heap_resident_bytes"):
        t.check(types.get(fam) == "gauge", "# TYPE %s gauge" % fam, types.get(fam))
    names = [lab.get("name") for n, lab, v in after if n == "sluice_heap_allocator" and v == 1]
    t.check(len(names) == 1 and names[0] in ("jemalloc", "glibc"),
            "one sluice_heap_allocator sample names jemalloc or glibc", names)
    allocated = total(after, "sluice_heap_allocated_bytes")
    resident = total(after, "sluice_heap_resident_bytes")
    t.check(resident >= allocated >= 0, "heap resident >= allocated >= 0", (resident, allocated))
    if names == ["jemalloc"]:
        if st.on_postgres():
            # No SQLite page cache in the process: the sandbox is most of it.
            t.check(allocated > 1 << 19, "jemalloc has handed out over 512 KiB (the policy "
                    "sandbox)", allocated)
        else:
            t.check(allocated > 1 << 20, "jemalloc has handed out over a MiB (the policy "
                    "sandbox, the store's caches)", allocated)
    t.check("secret-item-id-4711" not in text,
            "route labels are templates, not raw paths (no item id in /metrics)")


st.main(body)
