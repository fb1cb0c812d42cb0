#!/usr/bin/env python3
"""Finishes a root made by unpacking .debs with `dpkg-deb -x` (no maintainer scripts ran).

Usage: fixup-root.py ROOT DEB...

1. Alternatives: each `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...`
   in the packages' postinst scripts becomes symlinks from LINK to PATH, the highest priority winning per
   NAME, as dpkg's auto mode would set them (libopenblas.so, openblas.pc, libblas.so.3, awk, ...).
2. Absolute symlinks become relative ones, so that the root also works as a cross-compilation sysroot:
   a linker outside it must not follow /usr/lib/... to the build machine's own files.

Run by scripts/arm64/test-under-qemu.sh; needs nothing but Python 3 and dpkg-deb.
"""
import os
import re
import shlex
import subprocess
import sys


def postinst(deb):
    r = subprocess.run(["dpkg-deb", "-I", deb, "postinst"], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def alternatives(script):
    """(name, priority, [(link, path), ...]) for every `update-alternatives --install` whose words
    are literals or the script's own plain assignments (`blis_pri=80`)."""
    text = script.replace("\\\n", " ")
    variables = dict(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=([^\s$`;]+)\s*$", text, re.M))

    def expand(word):
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), m.group(0)), word)

    out = []
    for line in text.splitlines():
        if "update-alternatives" not in line or "--install" not in line:
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if "--install" not in words:
            continue
        words = [expand(w) for w in words[words.index("--install") + 1:]]
        if len(words) < 4:
            continue
        link, name, path, prio = words[:4]
        try:
            priority = int(prio)
        except ValueError:
            continue
        pairs = [(link, path)]
        rest = words[4:]
        while len(rest) >= 4 and rest[0] == "--slave":
            pairs.append((rest[1], rest[3]))
            rest = rest[4:]
        if any("$" in p or "`" in p for pair in pairs for p in pair):
            continue  # computed at run time: not handled (none of the packages used here need that)
        out.append((name, priority, pairs))
    return out


def relink(root, link, target):
    """Points ROOT/link at ROOT/target with a relative symlink."""
    full = root + link
    if os.path.lexists(full):
        if not os.path.islink(full):
            return  # a real file ships there: leave it
        os.unlink(full)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    os.symlink(os.path.relpath(target, os.path.dirname(link)), full)


def main():
    root, debs = os.path.abspath(sys.argv[1]), sys.argv[2:]
    best = {}
    for deb in debs:
        for name, priority, pairs in alternatives(postinst(deb)):
            # Only candidates whose file is there (a master without its file is not offered).
            if not os.path.lexists(root + pairs[0][1]):
                continue
            if name not in best or priority > best[name][0]:
                best[name] = (priority, pairs)
    for name, (priority, pairs) in sorted(best.items()):
        for link, path in pairs:
            if os.path.lexists(root + path):
                relink(root, link, path)
    made_relative = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            full = os.path.join(dirpath, entry)
            if not os.path.islink(full):
                continue
            target = os.readlink(full)
            if target.startswith("/"):
                link = "/" + os.path.relpath(full, root)
                os.unlink(full)
                os.symlink(os.path.relpath(target, os.path.dirname(link)), full)
                made_relative += 1
    print(f"fixup-root: {len(best)} alternatives set, {made_relative} absolute symlinks made relative")


if __name__ == "__main__":
    main()
