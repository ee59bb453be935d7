#!/usr/bin/env python3
"""Fills the output of every `$ auditq …` example in a docs page's ```console blocks by
running it (target/release/auditq, from the repository root), in the form tests/it/docs.rs
checks: the command, `? N` when the exit code is not 0, then stdout and stderr.

    python3 scripts/fill-doc-examples.py docs/forensics.md

Read the result before committing it: the test then holds auditq to it."""
import os, shlex, subprocess, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
binary = os.path.join(root, "target", "release", "auditq")
path = sys.argv[1]
out, in_console = [], False
for line in open(path, encoding="utf-8").read().split("\n"):
    if line.startswith("```"):
        in_console = line == "```console"
        out.append(line)
        continue
    if not in_console:
        out.append(line)
        continue
    if line.startswith("$ "):
        words = shlex.split(line[2:])
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        p = subprocess.run([binary] + words[1:], cwd=root, capture_output=True, env=env)
        out.append(line)
        if p.returncode != 0:
            out.append(f"? {p.returncode}")
        text = (p.stdout + p.stderr).decode("utf-8")
        out.extend(text.rstrip("\n").split("\n") if text else [])
    # old output lines are dropped
open(path, "w", encoding="utf-8").write("\n".join(out))
