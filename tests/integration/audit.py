# SPDX-License-Identifier: MIT
# The audit chain: keyed (HMAC-SHA-256, key in STATE/audit.key), verified a
# bounded page at a time, its head exported and anchored so that cut records
# show; edits made behind sluiced's back (on SQLite or PostgreSQL) are found;
# a trail written plain (before the key) goes on keyed; a keyed trail without
# its key does not start.
import hashlib
import hmac
import os
import re
import stat
import sys
sys.dont_write_bytecode = True
import sluicetest as st


def rehash_plain(d, first):
    """What someone who can write the database but has no key can do: make
    every record from `first` on a valid plain SHA-256 record again."""
    # prev with a letter in front: psql would read 64 zeros as the number 0.
    rows = d.sql("SELECT seq, item, actor, action, from_state, to_state, reason, ts_ms,"
                 " 'h' || prev FROM audit WHERE seq >= ? ORDER BY seq", (first,))
    prev = rows[0][8][1:]
    for seq, item, actor, action, frm, to, reason, ts, _ in rows:
        h = hashlib.sha256()
        for f in (prev, str(seq), item, actor, action, frm, to, reason, str(ts)):
            h.update(b"\x1e" if f is None else str(f).encode())
            h.update(b"\x1f")
        d.sql("UPDATE audit SET prev = ?, hash = ?, v = 1 WHERE seq = ?",
              (prev, h.hexdigest(), seq))
        prev = h.hexdigest()


def text(f):
    """A field as stored: psql reads an all-digit text as a number."""
    return None if f is None else str(f)


def text_message(prev, seq, item, actor, action, frm, to, reason, ts):
    """Formats 1 and 2: the fields as text, each ended by 0x1f, None as 0x1e."""
    out = b""
    for f in (prev, str(seq), item, actor, action, frm, to, reason, str(ts)):
        out += (b"\x1e" if f is None else text(f).encode()) + b"\x1f"
    return out


def packed_message(prev, seq, item, actor, action, frm, to, reason, ts):
    """Format 3: byte 3, the previous hash's 32 bytes, seq and ts_ms as 8
    bytes big-endian, each text as LEB128(length + 1, 0 for none) and bytes."""
    out = b"\x03" + bytes.fromhex(prev) + seq.to_bytes(8, "big") + ts.to_bytes(8, "big")
    for f in (item, actor, action, frm, to, reason):
        b = b"" if f is None else text(f).encode()
        v = 0 if f is None else len(b) + 1
        while True:
            out += bytes([(v & 0x7F) | (0x80 if v > 0x7F else 0)])
            v >>= 7
            if not v:
                break
        out += b
    return out


def rehash_keyed(d, key, formats):
    """With the key, rewrite the whole chain: record N in format formats(N)."""
    rows = d.sql("SELECT seq, item, actor, action, from_state, to_state, reason, ts_ms"
                 " FROM audit ORDER BY seq")
    prev = "0" * 64
    for row in rows:
        fmt = formats(row[0])
        msg = (b"2\x1f" + text_message(prev, *row) if fmt == 2
               else packed_message(prev, *row))
        h = hmac.new(key, msg, hashlib.sha256).hexdigest()
        d.sql("UPDATE audit SET prev = ?, hash = ?, v = ? WHERE seq = ?", (prev, h, fmt, row[0]))
        prev = h


def walk(d, page, **anchor):
    """Every page of verify; (pages, the last answer)."""
    after, pages = 0, []
    while True:
        q = "/v1/audit/verify?after=%d&limit=%d" % (after, page)
        if anchor and not pages:
            q += "&head_seq=%d&head_hash=%s" % (anchor["seq"], anchor["hash"])
        r = d.get(q)
        if r.status != 200:
            raise st.Failed("GET %s: %r" % (q, r))
        pages.append(r.json)
        if not r.json.get("ok") or not r.json.get("more"):
            return pages, r.json
        after = r.json["next_after"]


def ctl(d, *args):
    return st.run([st.program("sluicectl"), "--url", d.url, "--token", d.token] + list(args))


def body(t):
    d = t.daemon()
    key = os.path.join(d.state, "audit.key")
    t.require(os.path.exists(key), "first start makes STATE/audit.key")
    t.check(stat.S_IMODE(os.stat(key).st_mode) == 0o600, "audit.key has mode 0600")
    with open(key) as f:
        t.check(re.fullmatch(r"[0-9a-f]{64}\nfrom 1\n", f.read()) is not None,
                "audit.key holds 64 hex digits, and the record it keys from: 1")
    for i in range(20):
        t.require(d.post("/v1/uploads", st.upload("a%02d" % i)).status == 202,
                  "upload a%02d" % i)
    head = d.get("/v1/audit/head").json
    t.check(head.get("seq") == 40 and head.get("format") == 3
            and re.fullmatch(r"[0-9a-f]{64}", head.get("hash", "")),
            "GET /v1/audit/head: record 40, keyed", head)
    t.check(d.sql("SELECT count(*) FROM audit WHERE v != 3") == [(0,)],
            "every record of a new trail is keyed, packed (format 3)")
    # Format 3 is what docs/security.md says: recomputed here from the key.
    # (prev and hash with a letter in front: psql would read all digits as
    # a number.)
    with open(key) as f:
        secret = bytes.fromhex(f.read().split()[0])
    row = d.sql("SELECT seq, item, actor, action, from_state, to_state, reason, ts_ms,"
                " 'h' || prev, 'h' || hash FROM audit WHERE seq = 40")[0]
    t.check(hmac.new(secret, packed_message(row[8][1:], *row[:8]), hashlib.sha256).hexdigest()
            == row[9][1:], "record 40's hash is HMAC-SHA-256 of its packed fields")

    # Paged: every page bounded, the walk whole.
    pages, last = walk(d, 7)
    t.check(last.get("ok") is True and sum(p["checked"] for p in pages) == 40
            and len(pages) == 6 and last.get("more") is False and last.get("last_seq") == 40,
            "verify in pages of 7: 6 pages, 40 records", [(p["after"], p["checked"]) for p in pages])
    t.check(all(p["checked"] <= 7 for p in pages), "no page checks more than its limit")
    r = d.get("/v1/audit/verify")
    t.check(r.status == 200 and r.json.get("ok") is True and r.json.get("checked") == 40
            and r.json.get("more") is False, "one default page covers a short trail", r)
    for q in ("limit=0", "limit=5001", "after=41", "after=-1", "after=x", "head_seq=3",
              "head_hash=" + "a" * 64, "head_seq=3&head_hash=ABC",
              "head_seq=0&head_hash=" + "a" * 64):
        t.error(d.get("/v1/audit/verify?" + q), 400, "bad_request", "verify?" + q)
    r = d.get("/v1/audit/verify?after=40")
    t.check(r.status == 200 and r.json.get("ok") is True and r.json.get("checked") == 0,
            "verify from the head: nothing left to check", r)

    # sluicectl: head, verify against it.
    p = ctl(d, "audit", "head")
    anchor_word = "%d:%s" % (head["seq"], head["hash"])
    t.check(p.returncode == 0 and p.stdout.split()[0] == anchor_word,
            "sluicectl audit head prints SEQ:HASH first", p.stdout)
    p = ctl(d, "audit", "verify", "--head", anchor_word)
    t.check(p.returncode == 0 and "still has the anchored hash" in p.stdout,
            "sluicectl audit verify --head SEQ:HASH on the intact chain", p.stdout + p.stderr)
    p = ctl(d, "audit", "verify", "--head", "40:nothex")
    t.check(p.returncode == 2, "sluicectl audit verify --head with a bad anchor exits 2")

    # Truncation: the newest records cut behind sluiced's back. The chain
    # is intact, only the anchor kept elsewhere tells.
    t.stopped(d)
    d.sql("DELETE FROM audit WHERE seq > 36")
    d.start()
    pages, last = walk(d, 10)
    t.check(last.get("ok") is True, "after the cut, the chain alone looks intact", last)
    pages, last = walk(d, 10, **head)
    a = pages[0].get("anchor", {})
    t.check(pages[0].get("ok") is False and a.get("ok") is False and a.get("truncated") is True,
            "verify against the anchored head: truncated", pages[0])
    p = ctl(d, "audit", "verify", "--head", anchor_word)
    t.check(p.returncode == 1 and "anchored record 40" in p.stderr,
            "sluicectl audit verify --head says the anchored record is gone", p.stderr)
    # New records past the cut: the anchored seq exists again, with another hash.
    for i in range(3):
        d.post("/v1/uploads", st.upload("b%d" % i))
    pages, last = walk(d, 100, **head)
    a = pages[0].get("anchor", {})
    t.check(a.get("ok") is False and a.get("truncated") is False
            and "rewritten" in a.get("message", ""),
            "records written over the cut: the anchored hash differs", a)

    # An edit behind sluiced's back: a reason changed.
    t.stopped(d)
    d.sql("UPDATE audit SET reason = 'nothing to see' WHERE seq = 12")
    d.start()
    pages, last = walk(d, 5)
    t.check(last.get("ok") is False and last.get("bad_seq") == 12
            and sum(p["checked"] for p in pages) == 11,
            "an edited reason breaks the chain at record 12", last)
    p = ctl(d, "audit", "verify")
    t.check(p.returncode == 1 and "record 12" in p.stderr, "sluicectl audit verify names 12",
            p.stderr)

    # ...and the edit made good as far as the editor can: every record
    # rehashed with plain SHA-256. Without the key it cannot pass.
    t.stopped(d)
    rehash_plain(d, 12)
    d.start()
    pages, last = walk(d, 5)
    t.check(last.get("ok") is False and last.get("bad_seq") == 12
            and "without the key" in last.get("message", ""),
            "records rehashed without the key: plain where the chain is keyed", last)
    t.stopped(d)
    rehash_plain(d, 1)
    d.start()
    pages, last = walk(d, 50)
    t.check(last.get("ok") is False and last.get("bad_seq") == 1
            and "without the key" in last.get("message", ""),
            "the whole chain rehashed without the key, and a restart: still found", last)
    with open(key) as f:
        t.check(f.read().split()[1:] == ["from", "1"], "the key file says it keys from record 1")

    # A trail written plain before there was a key (what an older sluiced
    # left): the start makes a key, marks where the keyed part begins, and
    # the whole verifies.
    t.stopped(d)
    os.unlink(key)
    d.start()
    t.check(os.path.exists(key), "a start over a plain trail makes the key")
    t.check("the chain is keyed from record" in d.logs(), "the log says where keying starts")
    head2 = d.get("/v1/audit/head").json
    r = d.get("/v1/audit?after=%d" % (head2["seq"] - 1))
    t.check(r.status == 200 and r.json["records"][0]["action"] == "audit_keyed"
            and r.json["records"][0]["actor"] == "system" and head2["format"] == 3,
            "an audit_keyed record ends the plain part", r)
    pages, last = walk(d, 50)
    t.check(last.get("ok") is True and last.get("last_seq") == head2["seq"],
            "plain records then keyed ones verify whole", last)

    # A keyed trail never gets a new key: without its file, no start.
    t.stopped(d)
    os.rename(key, key + ".away")
    r = st.run([st.program("sluiced"), "-c", d.conf, "--listen", "127.0.0.1:%d" % d.port,
                "--state", d.state, "--policies", d.policies])
    t.check(r.returncode == 1 and "audit.key" in r.stderr and "missing" in r.stderr,
            "a keyed trail whose key is missing: exit 1, naming the file", r.stderr[-400:])
    t.check(not os.path.exists(key), "...and no new key was made")
    # A key file named in the config is never made: it is the operator's.
    with open(d.conf, "a") as f:
        f.write('audit_key_file = "%s"\n' % os.path.join(t.tmp, "nowhere.key"))
    r = st.run([st.program("sluiced"), "-c", d.conf, "--listen", "127.0.0.1:%d" % d.port,
                "--state", d.state, "--policies", d.policies])
    t.check(r.returncode == 1 and "nowhere.key is missing" in r.stderr,
            "audit_key_file naming a missing file: exit 1", r.stderr[-400:])
    t.check(not os.path.exists(os.path.join(t.tmp, "nowhere.key")), "...and it was not made")
    # The key moved elsewhere and named in the config: all is well.
    moved = os.path.join(t.tmp, "elsewhere.key")
    os.rename(key + ".away", moved)
    with open(d.conf, "a") as f:
        f.write('audit_key_file = "%s"\n' % moved)
    d.start()
    pages, last = walk(d, 50)
    t.check(last.get("ok") is True, "audit_key_file pointing elsewhere: the chain verifies",
            last)
    # The wrong key: every keyed record fails.
    t.stopped(d)
    with open(moved) as f:
        words = f.read().split()
    t.check(words[1:] == ["from", str(head2["seq"])],
            "the new key says it keys from the audit_keyed record", words[1:])
    with open(moved, "w") as f:
        f.write("ab" * 32 + "\n" + " ".join(words[1:]) + "\n")
    d.start()
    pages, last = walk(d, 50)
    t.check(last.get("ok") is False and last.get("bad_seq") == head2["seq"]
            and "audit key" in last.get("message", ""),
            "another key: the first keyed record fails", last)
    t.stopped(d)

    # Records an older sluiced wrote keyed as text (format 2) verify as
    # before, a chain goes on packed after them, and an edit among them is
    # still found.
    d = t.daemon(name="older")
    for i in range(20):
        t.require(d.post("/v1/uploads", st.upload("b%02d" % i)).status == 202,
                  "upload b%02d" % i)
    t.stopped(d)
    with open(os.path.join(d.state, "audit.key")) as f:
        secret = bytes.fromhex(f.read().split()[0])
    rehash_keyed(d, secret, lambda seq: 2 if seq <= 25 else 3)
    d.start()
    pages, last = walk(d, 100)
    t.check(last.get("ok") is True and last.get("last_seq") == 40,
            "records 1-25 in format 2, 26-40 in format 3: the chain verifies", last)
    t.require(d.post("/v1/uploads", st.upload("b99")).status == 202, "upload b99")
    pages, last = walk(d, 100)
    head = d.get("/v1/audit/head").json
    t.check(last.get("ok") is True and last.get("last_seq") == 42 and head["format"] == 3,
            "new records go on in format 3 after them", last)
    t.stopped(d)
    d.sql("UPDATE audit SET reason = 'edited' WHERE seq = 12")
    d.start()
    pages, last = walk(d, 100)
    t.check(last.get("ok") is False and last.get("bad_seq") == 12,
            "an edited format 2 record is found", last)


st.main(body)
