# SPDX-License-Identifier: MIT
# promtool (Prometheus's checker, Debian's prometheus package) accepts the
# alert rules (promtool check rules), their alerts fire and stay quiet as
# tests/ops/sluice.rules.test.yml says (promtool test rules), and every query
# of the Grafana dashboard parses as PromQL. Without promtool: skip.
#
# promtool is looked for as $PROMTOOL, then on PATH. ./quickstart check
# unpacks it from the prometheus package without installing the server.
import json
import os
import shutil
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st


def promtool():
    p = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not p or not os.access(p, os.X_OK):
        ot.skip("promtool not found: install Debian's prometheus package, or set PROMTOOL "
                "(./quickstart check unpacks one)")
    return p


def body(t):
    tool = promtool()
    src = st.srcdir()
    r = st.run([tool, "--version"])
    print((r.stdout or r.stderr).splitlines()[0] if (r.stdout or r.stderr) else tool)

    work = os.path.join(t.tmp, "rules")
    os.makedirs(work)
    shutil.copy(os.path.join(src, ot.RULES), work)
    shutil.copy(os.path.join(src, "tests", "ops", "sluice.rules.test.yml"), work)
    r = st.run([tool, "check", "rules", os.path.join(work, "sluice.rules.yml")], timeout=60)
    t.check(r.returncode == 0, "promtool check rules dist/sluice.rules.yml",
            (r.stdout + r.stderr)[-3000:])
    # rule_files: in the test file are read from the test file's folder.
    r = st.run([tool, "test", "rules", os.path.join(work, "sluice.rules.test.yml")], timeout=120)
    t.check(r.returncode == 0, "promtool test rules: each alert fires when it should, "
            "and only then", (r.stdout + r.stderr)[-4000:])

    # The dashboard's queries as recording rules: promtool parses each.
    with open(os.path.join(src, ot.DASHBOARD)) as f:
        exprs = ot.dashboard_exprs(json.load(f))
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (where, e) in enumerate(exprs):
        for var, val in ot.GRAFANA_VARS:
            e = e.replace(var, val)
        lines += ["      - record: dashboard:query_%d" % i,
                  "        expr: %s" % json.dumps(e)]     # a JSON string is a YAML string
    path = os.path.join(work, "dashboard.rules.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = st.run([tool, "check", "rules", path], timeout=60)
    t.check(r.returncode == 0, "every query of the dashboard (%d) parses as PromQL" % len(exprs),
            (r.stdout + r.stderr)[-3000:])


st.main(body)
