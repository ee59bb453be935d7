//! A query regex (Rust `regex` syntax) written for an engine's regex dialect so that it
//! matches exactly the same strings.
//!
//! The regex is parsed into `regex-syntax`'s HIR, where case folding, `.`, `\d`, `\w`,
//! `[[:alpha:]]` and `\p{…}` are already explicit sets of code points; it is then written
//! back with nothing left to interpretation: every character that is not an ASCII letter
//! or digit as `\x{…}`, every class as its ranges, groups as `(?:…)`, text anchors as
//! `\A` and `\z` (Java's `$` also matches before a final newline; RE2's `\d` is ASCII and
//! Rust's Unicode). What a dialect cannot say the same way is refused, never approximated.

use super::Dialect;
use regex_syntax::hir::{Class, Hir, HirKind, Look, Repetition};
use std::fmt::Write;

/// Why a regex cannot be written for a dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable(pub String);

/// RE2 refuses counted repetitions above this.
const RE2_MAX_REPEAT: u32 = 1000;

/// `pattern` (already accepted by the `regex` crate) for `dialect`.
pub fn translate(pattern: &str, dialect: Dialect) -> Result<String, Untranslatable> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| Untranslatable(format!("cannot read the regex: {e}")))?;
    let mut out = String::new();
    write_hir(&hir, dialect, &mut out)?;
    Ok(out)
}

/// A `*` glob (the literal pieces between the stars) as an anchored regex: the first
/// piece a prefix, the last a suffix, the others in order between them; a star matches
/// any characters, newlines included.
pub fn glob(parts: &[String]) -> String {
    let mut out = String::from("\\A");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(ANY);
            out.push('*');
        }
        for c in part.chars() {
            write_char(c, &mut out);
        }
    }
    out.push_str("\\z");
    out
}

/// Any character (Rust strings hold no surrogates).
const ANY: &str = "[\\x{0}-\\x{D7FF}\\x{E000}-\\x{10FFFF}]";

fn write_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

fn write_hir(hir: &Hir, dialect: Dialect, out: &mut String) -> Result<(), Untranslatable> {
    match hir.kind() {
        HirKind::Empty => out.push_str("(?:)"),
        HirKind::Literal(literal) => {
            let text = std::str::from_utf8(&literal.0).map_err(|_| {
                Untranslatable("the regex matches bytes that are not UTF-8 text".into())
            })?;
            out.push_str("(?:");
            text.chars().for_each(|c| write_char(c, out));
            out.push(')');
        }
        HirKind::Class(Class::Unicode(class)) => {
            if class.ranges().is_empty() {
                // Matches nothing.
                out.push_str("[^");
                out.push_str(&ANY[1..]);
                return Ok(());
            }
            out.push('[');
            for range in class.ranges() {
                write_char(range.start(), out);
                if range.end() != range.start() {
                    out.push('-');
                    write_char(range.end(), out);
                }
            }
            out.push(']');
        }
        HirKind::Class(Class::Bytes(_)) => {
            return Err(Untranslatable(
                "the regex has a byte class ((?-u)): SQL engines match characters".into(),
            ));
        }
        HirKind::Look(look) => write_look(*look, dialect, out)?,
        HirKind::Repetition(rep) => write_repetition(rep, dialect, out)?,
        HirKind::Capture(capture) => {
            out.push_str("(?:");
            write_hir(&capture.sub, dialect, out)?;
            out.push(')');
        }
        HirKind::Concat(parts) => {
            out.push_str("(?:");
            for part in parts {
                write_hir(part, dialect, out)?;
            }
            out.push(')');
        }
        HirKind::Alternation(parts) => {
            out.push_str("(?:");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write_hir(part, dialect, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

fn write_repetition(
    rep: &Repetition,
    dialect: Dialect,
    out: &mut String,
) -> Result<(), Untranslatable> {
    let re2 = dialect.regex_is_re2();
    let too_many = |n: u32| re2 && n > RE2_MAX_REPEAT;
    if too_many(rep.min) || rep.max.is_some_and(too_many) {
        return Err(Untranslatable(format!(
            "a repetition above {RE2_MAX_REPEAT} ({}'s regex engine, RE2, refuses it)",
            dialect.name()
        )));
    }
    out.push_str("(?:");
    write_hir(&rep.sub, dialect, out)?;
    out.push(')');
    match (rep.min, rep.max) {
        (0, None) => out.push('*'),
        (1, None) => out.push('+'),
        (0, Some(1)) => out.push('?'),
        (min, None) => {
            let _ = write!(out, "{{{min},}}");
        }
        (min, Some(max)) if min == max => {
            let _ = write!(out, "{{{min}}}");
        }
        (min, Some(max)) => {
            let _ = write!(out, "{{{min},{max}}}");
        }
    }
    if !rep.greedy {
        out.push('?');
    }
    Ok(())
}

/// The ASCII word characters.
const ASCII_WORD: &str = "[0-9A-Za-z_]";

fn write_look(look: Look, dialect: Dialect, out: &mut String) -> Result<(), Untranslatable> {
    let refuse = |what: &str, hint: &str| {
        Err(Untranslatable(format!(
            "{what} means something else in {}'s regex engine{hint}",
            dialect.name()
        )))
    };
    match look {
        Look::Start => out.push_str("\\A"),
        Look::End => out.push_str("\\z"),
        Look::StartLF | Look::EndLF => match dialect {
            // Java: only `\n` ends a line with UNIX_LINES (`d`).
            Dialect::Spark => out.push_str(if look == Look::StartLF {
                "(?md:^)"
            } else {
                "(?md:$)"
            }),
            // Ruby's (Joni's) `^`/`$` also end lines at `\r`-less positions differently.
            Dialect::Trino => return refuse("a multi-line anchor ((?m)^ or $)", ""),
            _ => out.push_str(if look == Look::StartLF {
                "(?m:^)"
            } else {
                "(?m:$)"
            }),
        },
        Look::WordAscii | Look::WordAsciiNegate => match dialect {
            Dialect::Spark => {
                // Java's `\b` is not ASCII: spelled out with look-arounds.
                let w = ASCII_WORD;
                if look == Look::WordAscii {
                    let _ = write!(out, "(?:(?<={w})(?!{w})|(?<!{w})(?={w}))");
                } else {
                    let _ = write!(out, "(?:(?<={w})(?={w})|(?<!{w})(?!{w}))");
                }
            }
            Dialect::Trino => return refuse("a word boundary", ""),
            _ => out.push_str(if look == Look::WordAscii {
                "\\b"
            } else {
                "\\B"
            }),
        },
        Look::WordUnicode | Look::WordUnicodeNegate => {
            return refuse(
                "a Unicode word boundary (\\b)",
                "; an ASCII one, (?-u:\\b), can be translated",
            );
        }
        _ => {
            return refuse(
                &format!("the assertion {look:?}"),
                " (CRLF mode, half word boundaries)",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str, dialect: Dialect) -> String {
        translate(pattern, dialect).unwrap()
    }

    /// Every translation is itself a Rust regex meaning the same (`\A`, `\z`, `\x{…}`,
    /// classes and `(?:…)` mean the same in Rust): checked on a few strings.
    #[test]
    fn translations_match_what_the_original_matches() {
        let patterns = [
            "^kubectl/v1\\.3",
            "\\d+",
            "(?i)alice",
            "a.b",
            "x$",
            "[[:alpha:]]+_",
            "^(get|list)$",
            "a{2,3}?",
            "(?-u:\\b)ab",
            "ǅ",
            "",
        ];
        let texts = [
            "kubectl/v1.30",
            "٣",
            "ALICE",
            "a\nb",
            "x\n",
            "abc_",
            "list",
            "aaa",
            "ab",
            "ǆ",
            "",
            "a-ab",
        ];
        for pattern in patterns {
            let original = regex::Regex::new(pattern).unwrap();
            let translated = regex::Regex::new(&re(pattern, Dialect::DuckDb)).unwrap();
            for text in texts {
                assert_eq!(
                    original.is_match(text),
                    translated.is_match(text),
                    "{pattern:?} on {text:?}: {translated}"
                );
            }
        }
    }

    #[test]
    fn dialect_differences() {
        assert_eq!(re("x$", Dialect::DuckDb), "(?:(?:x)\\z)");
        assert!(re("(?-u:\\b)a", Dialect::Spark).contains("(?<="));
        assert!(translate("\\ba", Dialect::DuckDb).is_err());
        assert!(translate("(?m)^a", Dialect::Trino).is_err());
        assert!(translate("a{1001}", Dialect::ClickHouse).is_err());
        assert!(translate("a{1001}", Dialect::Spark).is_ok());
        assert!(translate("(?-u:[\\xFF])", Dialect::DuckDb).is_err());
    }

    /// Random regexes from pieces where dialects differ, on random texts: the
    /// translation, read back as a Rust regex, matches exactly what the original matches.
    /// (An ASCII `\\b` is written `\\b` for RE2, where it is ASCII: Rust would read it
    /// back as Unicode, so it is left to `dialect_differences` and the conformance suite.)
    fn piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let atom = proptest::sample::select(vec![
            "a",
            "A",
            "\\d",
            "\\w",
            "\\s",
            ".",
            "[a-c]",
            "[^a]",
            "[[:alpha:]]",
            "(?i)k",
            "\\.",
            "_",
            "%",
            "ǅ",
            "\\p{Greek}",
            "^",
            "$",
            "(?m)^",
            "(?m)$",
            "(?s).",
            "\\n",
            "é",
            "\\x{1F600}",
            "[0-9]",
        ]);
        let rep = proptest::sample::select(vec!["", "", "*", "+", "?", "{2}", "{1,3}", "*?"]);
        proptest::collection::vec((atom, rep), 1..5).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(a, r)| {
                    if r.is_empty() || a.starts_with(['^', '$', '(']) {
                        a.to_string()
                    } else {
                        format!("(?:{a}){r}")
                    }
                })
                .collect::<Vec<_>>()
                .join("")
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn random_translations_match_the_same_texts(
            pattern in piece(),
            alternative in piece(),
            texts in proptest::collection::vec("[aAkK_%.é\\n \\t٣0-9ǅǆxα😀-]{0,8}", 1..8),
        ) {
            let pattern = format!("{pattern}|{alternative}");
            let original = regex::Regex::new(&pattern).unwrap();
            for dialect in [Dialect::DuckDb, Dialect::Spark] {
                let translated = translate(&pattern, dialect).unwrap();
                if dialect == Dialect::Spark {
                    continue; // Java-only look-arounds: the conformance suite runs them.
                }
                let translated = regex::Regex::new(&translated).unwrap();
                for text in &texts {
                    proptest::prop_assert_eq!(original.is_match(text), translated.is_match(text), "{} on {:?}", pattern, text);
                }
            }
        }
    }

    #[test]
    fn globs_are_anchored_and_span_newlines() {
        let g = glob(&["sys".into(), "em:".into(), "".into()]);
        let r = regex::Regex::new(&g).unwrap();
        assert!(r.is_match("system:node"));
        assert!(r.is_match("sys\nem:"));
        assert!(!r.is_match("xsystem:"));
    }
}
