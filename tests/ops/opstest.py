# SPDX-License-Identifier: MIT
"""Operations tests' helpers: the integration harness (tests/integration/
sluicetest.py), plus a daemon started through a wrapper or from another
binary, the built plugins, and a systemd notify socket."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
if not os.environ.get("SLUICE_SRCDIR"):
    print("SLUICE_SRCDIR is not set: run through `make check` or export it")
    sys.exit(99)
sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "integration"))
import sluicetest as st  # noqa: E402

SKIP = st.SKIP


def skip(why):
    """Exit 77 (automake's SKIP), saying why first."""
    print("SKIP: %s" % why)
    sys.stdout.flush()
    sys.exit(SKIP)


def plugins_conf(extra=""):
    """Configuration lines loading the shipped plugins as built in this tree,
    the keyword lists beside the policies in force."""
    b = st.builddir()
    return ('plugins = {\n'
            '  { name = "keyword", path = "%s/plugins/keyword/.libs/keyword.so",'
            ' lists = "${policies_dir}/keywords" },\n'
            '  { name = "phash", path = "%s/plugins/phash/.libs/phash.so" },\n'
            '%s}\n' % (b, b, extra))


def shipped_policies(d):
    """The shipped policies and keyword lists into d's policy directory."""
    src = os.path.join(st.srcdir(), "policies")
    for name in sorted(os.listdir(src)):
        if name.endswith(".lua"):
            shutil.copy(os.path.join(src, name), os.path.join(d.policies, name))
    shutil.copytree(os.path.join(src, "keywords"), os.path.join(d.policies, "keywords"),
                    dirs_exist_ok=True)


class Daemon(st.Daemon):
    """sluicetest's daemon, started as `WRAP... BINARY -c CONF --listen ...
    --state ... --policies ...` with an environment of its own: sluicetest's
    start() runs command() in environment()."""

    def __init__(self, test, conf="", name="d", binary=None, wrap=(), env=None):
        super().__init__(test, conf, name)
        self.binary = binary
        self.wrap = list(wrap)
        self.env = env

    def command(self):
        return self.wrap + [self.binary or st.program("sluiced")] + super().command()[1:]

    def environment(self):
        env = dict(os.environ)
        env.update(self.env or {})
        return env

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Notify:
    """A systemd notify socket: NOTIFY_SOCKET for a daemon, and the
    messages it sent, in order."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)   # for a daemon run as another user
        self.messages = []

    def wait_for(self, line, timeout=st.START_TIMEOUT):
        """True once a message with `line` (e.g. READY=1) arrived after the
        ones already consumed; the messages up to it are consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.messages):
                if line in m.split("\n"):
                    del self.messages[:i + 1]
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                return False

    def close(self):
        self.sock.close()


def metric_samples(text):
    """{sample name: [label strings]} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        labels = line[len(name):].split("}", 1)[0] if line[len(name):].startswith("{") else ""
        out.setdefault(name, []).append(labels)
    return out


# {====================== PromQL in the dashboard and the rules ============

DASHBOARD = os.path.join("dist", "grafana-sluice.json")
RULES = os.path.join("dist", "sluice.rules.yml")

# Grafana's variables, as the dashboard would fill them in.
GRAFANA_VARS = (("$__rate_interval", "5m"), ("$__range", "1h"), ("$job", "sluice"),
                ("$instance", ".+"))


def dashboard_exprs(dash):
    """[(where, expr)] of every query of a Grafana dashboard (panels, rows'
    panels and query variables)."""
    out = []

    def walk(panels):
        for p in panels:
            for tg in p.get("targets") or []:
                if tg.get("expr"):
                    out.append(("panel %r" % p.get("title"), tg["expr"]))
            walk(p.get("panels") or [])
    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            m = re.match(r"\s*label_values\((.*),\s*\w+\)\s*$", q)
            out.append(("variable %r" % v.get("name"), m.group(1) if m else q))
    return out


def rules_exprs(text):
    """[(alert, expr)] of a Prometheus rules file. Not a YAML parser: enough
    for plain `expr: ...` lines and folded `expr: >-` blocks, the two forms
    the shipped file uses (promtool checks the file as YAML)."""
    out, lines, alert = [], text.splitlines(), None
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = re.match(r"\s*-\s*(alert|record):\s*(\S+)", ln)
        if m:
            alert = m.group(2)
        m = re.match(r"(\s*)expr:\s*(.*)$", ln)
        if m:
            indent, value = len(m.group(1)), m.group(2).strip()
            if value in (">-", ">", "|", "|-"):
                block = []
                while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                             len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent):
                    i += 1
                    block.append(lines[i].strip())
                value = " ".join(b for b in block if b)
            out.append((alert, value))
        i += 1
    return out


KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}
_STRING = r'"(?:[^"\\]|\\.)*"'


def _strip(expr):
    e = expr
    for var, val in GRAFANA_VARS:
        e = e.replace(var, val)
    return e


def metric_names(expr):
    """The metric names an expression selects."""
    e = re.sub(_STRING, '""', _strip(expr))
    e = re.sub(r"\{[^}]*\}", "{}", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", e):
        if m.group(0) in KEYWORDS or re.match(r"\s*\(", e[m.end():]):
            continue        # a keyword, or a function or aggregation
        names.add(m.group(0))
    return names


def selector_labels(expr):
    """[(metric, label)] of every label matcher in a selector."""
    out = []
    e = _strip(expr)
    for m in re.finditer(r"([A-Za-z_:][\w:]*)\s*\{((?:[^}\"]|%s)*)\}" % _STRING, e):
        for lm in re.finditer(r"(\w+)\s*(?:=~|!~|!=|=)\s*" + _STRING, m.group(2)):
            out.append((m.group(1), lm.group(1)))
    return out


def grouping_labels(expr):
    """[(metric, label)]: each label of a `by (...)` with each metric of the
    expression it groups (written `AGG by (L) (EXPR)`)."""
    out = []
    e = _strip(expr)
    for m in re.finditer(r"\bby\s*\(([^)]*)\)\s*\(", e):
        depth, j = 1, m.end()
        while j < len(e) and depth:
            depth += {"(": 1, ")": -1}.get(e[j], 0)
            j += 1
        inner = e[m.end():j - 1]
        for label in (x.strip() for x in m.group(1).split(",")):
            for name in metric_names(inner):
                out.append((name, label))
    return out


def other_exporters_metrics():
    """The metric names docs/operations.md lists under "Metrics from other
    exporters": the first column of its table."""
    path = os.path.join(st.srcdir(), "docs", "operations.md")
    names, inside = set(), False
    with open(path) as f:
        for ln in f:
            if ln.startswith("#"):
                inside = ln.strip().lower().endswith("metrics from other exporters")
                continue
            m = re.match(r"\|\s*`([A-Za-z_:][\w:]*)`", ln)
            if inside and m:
                names.add(m.group(1))
    return names

# }=======================================================================
