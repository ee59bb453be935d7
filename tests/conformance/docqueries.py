"""The queries of the docs' examples, found as tests/it/docs.rs finds the examples: in
```console blocks, each `$ auditq …` line; those documented to fail (`? N` after the
command) are left out. A query is a positional word that is neither an option, an
option's value nor an existing path; `-e TEXT` is a query too. Stdlib only."""

import os
import re

# auditq's options that take a value in the next word (auditq --help).
VALUE_OPTIONS = {
    "-e", "--query", "--since", "--until", "-o", "--output", "--count-by", "--timeline-by",
    "--top", "-m", "--max-count", "--color", "-j", "--threads", "--max-line-bytes", "-n",
    "--lines", "--state", "--merge-window", "--completions",
}


def shell_words(text):
    """Splits like a POSIX shell for the forms the docs use: '…', "…" and bare words."""
    words, cur, in_word, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            in_word = True
            j = text.index(c, i + 1)
            cur.append(text[i + 1:j])
            i = j + 1
            continue
        if c.isspace():
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
        else:
            in_word = True
            cur.append(c)
        i += 1
    if in_word:
        words.append("".join(cur))
    return words


def commands(markdown):
    """[(line number, argv after `auditq`, exit code)] of a page's console examples."""
    out, in_console = [], False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            in_console = line == "```console"
            continue
        if not in_console:
            continue
        if line.startswith("$ "):
            words = shell_words(line[2:])
            if words and words[0] == "auditq":
                out.append([number, words[1:], 0])
        elif line.startswith("? ") and out and out[-1][0] == number - 1:
            out[-1][2] = int(line[2:])
    return out


def queries_of(argv, root):
    """(queries, count-by field lists) in one command's arguments."""
    queries, count_by = [], []
    args = iter(argv)
    for word in args:
        if word == "--":
            continue
        if word in VALUE_OPTIONS:
            value = next(args, "")
            if word in ("-e", "--query"):
                queries.append(value)
            if word == "--count-by":
                count_by.append(value.split(","))
            continue
        if word.startswith("-") and word != "-":
            continue
        if word and (os.path.exists(os.path.join(root, word)) or re.fullmatch(r"[\w./-]+\.(log|json|gz)", word)):
            continue
        queries.append(word)
    return queries, count_by


def doc_queries(root, pages=("query.md", "forensics.md")):
    """[(label, query)], and the count-by field lists the docs use."""
    found, field_sets = [], []
    for page in pages:
        text = open(os.path.join(root, "docs", page), encoding="utf-8").read()
        for number, argv, code in commands(text):
            if code != 0 or (argv and argv[0] not in ("-c",) and not argv[0].startswith("-") and argv[0] in ("sql", "export", "policy", "serve", "doctor")):
                continue
            queries, count_by = queries_of(argv, root)
            # Several query words are ANDed by auditq: keep them together as one query.
            if queries:
                found.append(("docs/%s:%d" % (page, number), queries))
            field_sets.extend(count_by)
    return found, field_sets
