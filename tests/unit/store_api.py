# SPDX-License-Identifier: MIT
# Every function store.h declares reaches both backends: it is in
# backend.h's lists (store.c hands each call to the backend chosen), or one
# of the few store.c writes out by hand. A function declared in store.h and
# missing from backend.h still compiles and links when the SQLite backend
# defines it under its public name, and then runs SQLite's code on the
# dispatcher's struct: a crash at run time, not at build time.
import os
import re
import sys

SRC = os.environ.get("SLUICE_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
STORE = os.path.join(SRC, "core", "store")

# Written out in store.c, copy.c or inline in store.h (backend.h says which).
BY_HAND = {"open", "free", "created", "deadline", "interrupt", "copy", "audit_keyed"}


def read(name):
    with open(os.path.join(STORE, name), encoding="utf-8") as f:
        return f.read()


def main():
    header = re.sub(r"/\*.*?\*/", "", read("store.h"), flags=re.S)
    declared = set(re.findall(r"\bsl_store_([a-z0-9_]+)\s*\(", header))
    listed = set(re.findall(r"\bX\(([a-z0-9_]+)", read("backend.h")))
    bad = sorted(declared - listed - BY_HAND)
    gone = sorted(BY_HAND - declared)
    for name in bad:
        print("FAIL sl_store_%s is declared in core/store/store.h but not listed in "
              "core/store/backend.h (SL_STORE_FUNCS or SL_STORE_TX_FUNCS)" % name)
    for name in gone:
        print("FAIL sl_store_%s is in this test's by-hand list but store.h no longer "
              "declares it: take it out of BY_HAND" % name)
    if not declared or not listed:
        print("FAIL found no functions (declared %d, listed %d): did the files move?"
              % (len(declared), len(listed)))
        return 1
    print("# %d functions declared, %d listed for both backends, %d by hand"
          % (len(declared), len(declared & listed), len(declared & BY_HAND)))
    return 1 if bad or gone else 0


sys.exit(main())
