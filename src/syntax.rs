//! JSON syntax (RFC 8259) without building values: a streaming scanner fed line by line,
//! and a repair pass that turns what Go's `encoding/json` accepts but simd-json refuses
//! into an equivalent that simd-json parses.
//!
//! The scanner is the reference for what a multi-line document is (see
//! [`crate::framing`]): it keeps its stack on the heap, so nesting depth never costs
//! native stack. The repair pass is only run on the rare documents simd-json rejects or
//! could misread: numbers outside 64 bits or outside f64, surrogate escapes that do not
//! form a pair, and invalid UTF-8 inside strings (each becomes U+FFFD, as in Go).

/// What the scanner reports, for each token, to the framing's candidate tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// `{` or `[`; the depth after it (1 for a top-level container).
    Open(usize),
    /// `}` or `]`; the depth after it (0 when a top-level container closed).
    Close(usize),
    /// Any other token: a string, number, literal, `,` or `:`.
    Other,
}

/// A syntax error at a byte of the input fed (or at the end of a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (top level, after `:`, after `,` in an array).
    Value,
    /// A value or `]` (just after `[`).
    ValueOrClose,
    /// A key or `}` (just after `{`).
    KeyOrClose,
    /// A key (after `,` in an object).
    Key,
    Colon,
    /// `,` or the closing bracket of the current container.
    CommaOrClose,
    /// The top-level value is complete; only white space may follow.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    None,
    /// Inside a string; `key` when it is an object key.
    Str {
        key: bool,
    },
    /// After a backslash in a string.
    Escape {
        key: bool,
    },
    /// Reading the hex digits of `\u`; `left` digits to go.
    Unicode {
        key: bool,
        left: u8,
    },
    Number(Num),
    /// Reading a literal: the remaining bytes of `true`, `false` or `null`.
    Literal {
        rest: &'static [u8],
    },
}

/// The number grammar: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

impl Num {
    fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::Exp)
    }

    fn next(self, b: u8) -> Option<Num> {
        Some(match (self, b) {
            (Num::Minus, b'0') => Num::Zero,
            (Num::Minus, b'1'..=b'9') => Num::Int,
            (Num::Int, b'0'..=b'9') => Num::Int,
            (Num::Zero | Num::Int, b'.') => Num::Dot,
            (Num::Dot | Num::Frac, b'0'..=b'9') => Num::Frac,
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Num::E,
            (Num::E, b'+' | b'-') => Num::ESign,
            (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Num::Exp,
            _ => return None,
        })
    }
}

/// A streaming JSON syntax checker for one document. Feed it the lines of a document
/// with [`Scanner::line`]; it reports tokens and stops at the first error.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Open containers: `b'{'` or `b'['`.
    stack: Vec<u8>,
    expect: Expect,
    lex: Lex,
    /// Another top-level value may follow a complete one ([`Scanner::sequence`]).
    sequence: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            stack: Vec::new(),
            expect: Expect::Value,
            lex: Lex::None,
            sequence: false,
        }
    }
}

impl Scanner {
    /// A scanner for one or more JSON values back to back (white space between them
    /// optional), as a line of concatenated values is read.
    pub fn sequence() -> Scanner {
        Scanner {
            sequence: true,
            ..Scanner::default()
        }
    }

    /// Scans bytes that continue the input (no line end implied). An error means that
    /// no continuation of what was fed can be valid: the scanner stops at the first byte
    /// after which the input is no longer the start of a valid document.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), SyntaxError> {
        for &b in bytes {
            self.byte(b, &mut |_| {})?;
        }
        Ok(())
    }

    /// Whether a whole top-level value has been read (and nothing after it).
    pub fn is_complete(&self) -> bool {
        self.expect == Expect::Done && self.lex == Lex::None
    }

    /// Scans one line (without its line end), then the line end itself, which is white
    /// space in JSON (so it ends a number, and is an error inside a string or literal).
    pub fn line(
        &mut self,
        line: &[u8],
        on_token: &mut dyn FnMut(Token),
    ) -> Result<(), SyntaxError> {
        for &b in line {
            self.byte(b, on_token)?;
        }
        self.byte(b'\n', on_token)
    }

    /// Scans a whole document (which may hold line ends) and requires it to be complete.
    pub fn document(bytes: &[u8]) -> Result<(), SyntaxError> {
        let mut scanner = Scanner::default();
        for &b in bytes {
            scanner.byte(b, &mut |_| {})?;
        }
        scanner.byte(b' ', &mut |_| {})?;
        if scanner.is_complete() {
            Ok(())
        } else {
            Err(SyntaxError)
        }
    }

    fn byte(&mut self, b: u8, on_token: &mut dyn FnMut(Token)) -> Result<(), SyntaxError> {
        match self.lex {
            Lex::None => self.structural(b, on_token),
            Lex::Str { key } => {
                match b {
                    b'"' => {
                        self.lex = Lex::None;
                        self.expect = if key {
                            Expect::Colon
                        } else {
                            self.after_value()
                        };
                    }
                    b'\\' => self.lex = Lex::Escape { key },
                    0..=0x1f => return Err(SyntaxError),
                    _ => {}
                }
                Ok(())
            }
            Lex::Escape { key } => {
                self.lex = match b {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Lex::Str { key },
                    b'u' => Lex::Unicode { key, left: 4 },
                    _ => return Err(SyntaxError),
                };
                Ok(())
            }
            Lex::Unicode { key, left } => {
                if !b.is_ascii_hexdigit() {
                    return Err(SyntaxError);
                }
                self.lex = if left == 1 {
                    Lex::Str { key }
                } else {
                    Lex::Unicode {
                        key,
                        left: left - 1,
                    }
                };
                Ok(())
            }
            Lex::Number(state) => match state.next(b) {
                Some(next) => {
                    self.lex = Lex::Number(next);
                    Ok(())
                }
                None if state.complete() => {
                    self.lex = Lex::None;
                    self.expect = self.after_value();
                    self.structural(b, on_token)
                }
                None => Err(SyntaxError),
            },
            Lex::Literal { rest } => {
                if rest.first() != Some(&b) {
                    return Err(SyntaxError);
                }
                if rest.len() == 1 {
                    self.lex = Lex::None;
                    self.expect = self.after_value();
                } else {
                    self.lex = Lex::Literal { rest: &rest[1..] };
                }
                Ok(())
            }
        }
    }

    /// What follows a complete value: `,`/close inside a container, nothing at top level.
    fn after_value(&self) -> Expect {
        if self.stack.is_empty() {
            Expect::Done
        } else {
            Expect::CommaOrClose
        }
    }

    fn structural(&mut self, b: u8, on_token: &mut dyn FnMut(Token)) -> Result<(), SyntaxError> {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            return Ok(());
        }
        if self.sequence && self.expect == Expect::Done {
            self.expect = Expect::Value;
        }
        let value_ok = matches!(self.expect, Expect::Value | Expect::ValueOrClose);
        match b {
            b'{' | b'[' if value_ok => {
                self.stack.push(b);
                self.expect = if b == b'{' {
                    Expect::KeyOrClose
                } else {
                    Expect::ValueOrClose
                };
                on_token(Token::Open(self.stack.len()));
            }
            b'}' | b']' => {
                let open = if b == b'}' { b'{' } else { b'[' };
                let may_close = match self.expect {
                    Expect::CommaOrClose => true,
                    Expect::KeyOrClose => open == b'{',
                    Expect::ValueOrClose => open == b'[',
                    _ => false,
                };
                if !may_close || self.stack.last() != Some(&open) {
                    return Err(SyntaxError);
                }
                self.stack.pop();
                self.expect = self.after_value();
                on_token(Token::Close(self.stack.len()));
            }
            b',' if self.expect == Expect::CommaOrClose => {
                self.expect = if self.stack.last() == Some(&b'{') {
                    Expect::Key
                } else {
                    Expect::Value
                };
                on_token(Token::Other);
            }
            b':' if self.expect == Expect::Colon => {
                self.expect = Expect::Value;
                on_token(Token::Other);
            }
            b'"' if value_ok || matches!(self.expect, Expect::Key | Expect::KeyOrClose) => {
                let key = matches!(self.expect, Expect::Key | Expect::KeyOrClose);
                self.lex = Lex::Str { key };
                on_token(Token::Other);
            }
            b'-' if value_ok => {
                self.lex = Lex::Number(Num::Minus);
                on_token(Token::Other);
            }
            b'0' if value_ok => {
                self.lex = Lex::Number(Num::Zero);
                on_token(Token::Other);
            }
            b'1'..=b'9' if value_ok => {
                self.lex = Lex::Number(Num::Int);
                on_token(Token::Other);
            }
            b't' | b'f' | b'n' if value_ok => {
                let rest: &'static [u8] = match b {
                    b't' => b"rue",
                    b'f' => b"alse",
                    _ => b"ull",
                };
                self.lex = Lex::Literal { rest };
                on_token(Token::Other);
            }
            _ => return Err(SyntaxError),
        }
        Ok(())
    }
}

/// Whether `prefix` is the start of some valid JSON document (RFC 8259 syntax; UTF-8
/// and the range of numbers are not checked, as Go reads past both): false exactly when
/// no bytes appended to it can make it valid. (The framing feeds its own `Scanner`; this
/// is the form the tests check against serde_json.)
#[cfg(test)]
pub fn may_become_valid(prefix: &[u8]) -> bool {
    Scanner::default().feed(prefix).is_ok()
}

/// Whether a line whose last significant byte is `tail` can be followed, inside one valid
/// JSON document, by a line whose first significant byte is `head`. `false` means no
/// document can span the two lines: a *hard boundary*, where framing may always cut.
pub fn may_continue(tail: u8, head: u8) -> bool {
    const VALUE_START: &[u8] = b"{[\"-0123456789tfn";
    let value_start = VALUE_START.contains(&head);
    match tail {
        b'{' => matches!(head, b'"' | b'}'),
        b'[' => value_start || head == b']',
        b',' | b':' => value_start,
        // The end of a value (or a byte of an unterminated string: invalid anyway).
        b'}' | b']' | b'"' | b'0'..=b'9' | b'e' | b'l' => matches!(head, b',' | b'}' | b']' | b':'),
        _ => false,
    }
}

/// Rewrites `doc` into an equivalent that simd-json accepts, or `None` when it is not
/// valid JSON. Only called after simd-json refused a document or when
/// [`has_surrogate_escape`] says it may misread one:
/// - a number beyond f64 becomes ±1.7976931348623157e308 (like jq), a negative integer
///   beyond 64 bits its nearest f64;
/// - a `\uD800`–`\uDFFF` escape that is not part of a valid pair becomes `\uFFFD`;
/// - invalid UTF-8 inside a string becomes U+FFFD (Go's `encoding/json` does the same).
pub fn repair(doc: &[u8]) -> Option<Vec<u8>> {
    Scanner::document(doc).ok()?;
    let mut out = Vec::with_capacity(doc.len() + 16);
    let mut i = 0;
    let mut in_string = false;
    while i < doc.len() {
        let b = doc[i];
        if in_string {
            match b {
                b'"' => {
                    in_string = false;
                    out.push(b);
                    i += 1;
                }
                b'\\' if doc.get(i + 1) == Some(&b'u') => {
                    i = repair_unicode_escape(doc, i, &mut out);
                }
                b'\\' => {
                    out.extend_from_slice(&doc[i..(i + 2).min(doc.len())]);
                    i += 2;
                }
                0x80.. => i = repair_utf8(doc, i, &mut out),
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = doc[i..]
                    .iter()
                    .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(doc.len(), |p| i + p);
                repair_number(&doc[i..end], &mut out);
                i = end;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Whether `doc` holds a `\u` escape in the surrogate range (`\uD800`–`\uDFFF`), which
/// simd-json may misread when unpaired (a lone high surrogate becomes U+0000). A cheap,
/// conservative test: escaped backslashes may make it say yes for nothing.
pub fn has_surrogate_escape(doc: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', doc).any(|at| {
        doc.get(at + 1) == Some(&b'u')
            && matches!(doc.get(at + 2), Some(b'd' | b'D'))
            && matches!(
                doc.get(at + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    })
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(bytes.get(..4)?).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// Copies the `\uXXXX` escape at `i` (and its pair), replacing unpaired surrogates with
/// `\uFFFD`. Returns the index after what was consumed.
fn repair_unicode_escape(doc: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let Some(unit) = hex4(&doc[i + 2..]) else {
        out.extend_from_slice(&doc[i..]);
        return doc.len();
    };
    match unit {
        0xD800..=0xDBFF => {
            let low = (doc.get(i + 6..i + 8) == Some(b"\\u"))
                .then(|| hex4(&doc[i + 8..]))
                .flatten();
            if let Some(low @ 0xDC00..=0xDFFF) = low {
                let _ = low;
                out.extend_from_slice(&doc[i..i + 12]);
                i + 12
            } else {
                out.extend_from_slice(b"\\uFFFD");
                i + 6
            }
        }
        0xDC00..=0xDFFF => {
            out.extend_from_slice(b"\\uFFFD");
            i + 6
        }
        _ => {
            out.extend_from_slice(&doc[i..i + 6]);
            i + 6
        }
    }
}

/// Copies the valid UTF-8 sequence at `i`, or U+FFFD for an invalid byte (Go replaces
/// each invalid byte on its own). Returns the index after it.
fn repair_utf8(doc: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let width = match doc[i] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    };
    if width > 0
        && let Some(seq) = doc.get(i..i + width)
        && std::str::from_utf8(seq).is_ok()
    {
        out.extend_from_slice(seq);
        return i + width;
    }
    out.extend_from_slice("\u{FFFD}".as_bytes());
    i + 1
}

/// Copies a number, rewriting those simd-json cannot represent.
fn repair_number(text: &[u8], out: &mut Vec<u8>) {
    let as_str = std::str::from_utf8(text).unwrap_or("0");
    let is_integer = !text.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
    let value: f64 = as_str.parse().unwrap_or(0.0);
    let fits = if is_integer {
        as_str.parse::<i64>().is_ok() || as_str.parse::<u64>().is_ok()
    } else {
        value.is_finite()
    };
    if fits {
        out.extend_from_slice(text);
    } else {
        let clamped = value.clamp(f64::MIN, f64::MAX);
        out.extend_from_slice(format!("{clamped:e}").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(text: &str) -> bool {
        Scanner::document(text.as_bytes()).is_ok()
    }

    #[test]
    fn accepts_and_rejects_like_rfc_8259() {
        for ok in [
            "{}",
            "[]",
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\u00e9\"\\"],"b":{}}"#,
            " [ 1 ,\n 2 ] ",
            "\"s\"",
            "0",
            "-0.0E-0",
            "[[[[]]]]",
        ] {
            assert!(valid(ok), "{ok}");
        }
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "tru",
            "nul",
            "{\"a\"}",
            "{1:2}",
            "[1 2]",
            "{\"a\":1}}",
            "\"a\nb\"",
            "\"\\x\"",
            "\"\\u12g4\"",
            "NaN",
            "{} {}",
            "[}",
            "{]",
            "\"\u{1}\"",
        ] {
            assert!(!valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn reports_tokens_with_depth() {
        let mut tokens = Vec::new();
        let mut s = Scanner::default();
        s.line(b"[{\"a\":1},", &mut |t| tokens.push(t)).unwrap();
        assert_eq!(
            tokens,
            [
                Token::Open(1),
                Token::Open(2),
                Token::Other,
                Token::Other,
                Token::Other,
                Token::Close(1),
                Token::Other
            ]
        );
        assert!(!s.is_complete());
        s.line(b"2]", &mut |_| {}).unwrap();
        assert!(s.is_complete());
        assert!(s.line(b"3", &mut |_| {}).is_err());
    }

    #[test]
    fn line_end_ends_numbers_but_not_strings() {
        let mut s = Scanner::default();
        s.line(b"[12", &mut |_| {}).unwrap();
        assert!(s.line(b"3]", &mut |_| {}).is_err());
        let mut s = Scanner::default();
        assert!(s.line(b"[\"ab", &mut |_| {}).is_err());
    }

    #[test]
    fn hard_boundaries() {
        assert!(!may_continue(b'}', b'{'));
        assert!(!may_continue(b']', b'['));
        assert!(!may_continue(b'"', b'"'));
        assert!(!may_continue(b'{', b'{'));
        assert!(!may_continue(b'x', b','));
        assert!(!may_continue(b'}', b'I'));
        assert!(!may_continue(b',', b']'));
        assert!(may_continue(b'}', b','));
        assert!(may_continue(b'{', b'"'));
        assert!(may_continue(b'[', b'{'));
        assert!(may_continue(b',', b'{'));
        assert!(may_continue(b'e', b'}'));
    }

    #[test]
    fn repairs_what_go_accepts() {
        let r = |s: &[u8]| repair(s).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            r(br#"{"a":1e400}"#).unwrap(),
            r#"{"a":1.7976931348623157e308}"#
        );
        assert_eq!(r(br#"[-1e400]"#).unwrap(), r#"[-1.7976931348623157e308]"#);
        assert_eq!(
            r(br#"[-9223372036854775809]"#).unwrap(),
            "[-9.223372036854776e18]"
        );
        assert_eq!(
            r(br#"[18446744073709551615,1]"#).unwrap(),
            "[18446744073709551615,1]"
        );
        assert_eq!(r(br#"["\ud800"]"#).unwrap(), r#"["\uFFFD"]"#);
        assert_eq!(r(br#"["\udc00x"]"#).unwrap(), r#"["\uFFFDx"]"#);
        assert_eq!(r(br#"["\ud800\u0041"]"#).unwrap(), r#"["\uFFFD\u0041"]"#);
        assert_eq!(r(br#"["\ud800\udc00"]"#).unwrap(), r#"["\ud800\udc00"]"#);
        assert_eq!(r(br#"["\\ud800"]"#).unwrap(), r#"["\\ud800"]"#);
        assert_eq!(r(b"[\"a\xffb\"]").unwrap(), "[\"a\u{FFFD}b\"]");
        assert_eq!(r("[\"é\"]".as_bytes()).unwrap(), "[\"é\"]");
        assert!(repair(b"{\"a\":}").is_none());
        assert!(repair(b"[\xff]").is_none());
    }

    #[test]
    fn surrogate_check_is_conservative() {
        assert!(has_surrogate_escape(br#""\ud800""#));
        assert!(has_surrogate_escape(br#""\uDFFF""#));
        assert!(!has_surrogate_escape(br#""\u0026\u00e9""#));
    }

    /// The oracle for [`may_become_valid`]: serde_json reads the prefix; running out of
    /// input (an EOF error) or success means some continuation may be valid, any other
    /// error that none can. `None` for what the two rightly judge differently (serde_json
    /// checks UTF-8, surrogate pairs, the range of numbers and nesting depth; auditq
    /// repairs or reports those later).
    fn oracle(prefix: &[u8]) -> Option<bool> {
        match serde_json::from_slice::<serde::de::IgnoredAny>(prefix) {
            Ok(_) => Some(true),
            Err(e) if e.is_eof() => {
                // serde_json reads the four digits of a `\u` escape before checking
                // them: at the end of input it says EOF even after a bad digit.
                let n = prefix.len();
                let bad_escape = (n.saturating_sub(5)..n).any(|u| {
                    prefix[u] == b'u'
                        && prefix[..u]
                            .iter()
                            .rev()
                            .take_while(|b| **b == b'\\')
                            .count()
                            % 2
                            == 1
                        && !prefix[u + 1..].iter().all(u8::is_ascii_hexdigit)
                });
                Some(!bad_escape)
            }
            Err(e) => {
                let m = e.to_string();
                // serde_json calls a number cut short by the end of input invalid, at
                // the end: whether a digit would complete it tells.
                let line_start = prefix
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .nth(e.line().saturating_sub(2))
                    .map_or(0, |(i, _)| i + 1);
                let at_end = e.line() == 1 + prefix.iter().filter(|b| **b == b'\n').count()
                    && line_start + e.column() >= prefix.len();
                if m.contains("invalid number") && at_end {
                    return oracle(&[prefix, b"0"].concat());
                }
                let unsure = ["surrogate", "unicode", "out of range", "recursion", "UTF-8"];
                (!unsure.iter().any(|u| m.contains(u))).then_some(false)
            }
        }
    }

    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
            "\"([a-z ]|\\\\[nt\"\\\\/]|\\\\u00[0-7][0-9a-f]){0,6}\"",
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(("[a-z]{0,3}", inner), 0..4).prop_map(|v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, x)| format!("\"{k}\": {x}"))
                        .collect();
                    format!("{{ {} }}", members.join(",\n"))
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Every prefix of a valid document may continue.
        #[test]
        fn every_prefix_of_a_valid_document_may_continue(doc in json_text()) {
            proptest::prop_assert!(Scanner::document(doc.as_bytes()).is_ok(), "{}", doc);
            for end in 0..=doc.len() {
                proptest::prop_assert!(may_become_valid(&doc.as_bytes()[..end]), "{:?}", &doc[..end]);
            }
        }

        /// A document with one byte replaced or inserted: each prefix is judged as
        /// serde_json judges it, so a prefix holding a byte no document can have there is
        /// "never valid" from that byte on, and only then.
        #[test]
        fn broken_prefixes_are_never_valid_exactly_when_serde_json_says(
            doc in json_text(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            byte in proptest::sample::select(b"{}[],:\"\\-+.0123456789eEtfnulrsa x\n\t/".to_vec()),
            insert in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = doc.into_bytes();
            let i = at.index(bytes.len() + 1);
            if insert || i == bytes.len() {
                bytes.insert(i, byte);
            } else {
                bytes[i] = byte;
            }
            let mut seen_never = false;
            for end in 0..=bytes.len() {
                let prefix = &bytes[..end];
                let ours = may_become_valid(prefix);
                if seen_never {
                    // Once never valid, every longer prefix is too.
                    proptest::prop_assert!(!ours);
                }
                seen_never |= !ours;
                if let Some(expected) = oracle(prefix) {
                    proptest::prop_assert_eq!(
                        ours, expected, "{:?}", String::from_utf8_lossy(prefix)
                    );
                }
            }
        }
    }

    #[test]
    fn prefixes_by_hand() {
        for ok in [
            "",
            "{",
            "{\"kind\":\"Event\",",
            "{\"a\":tr",
            "[1.",
            "[-",
            "{\"a\":\"\\u00",
            "[1e+",
            "{} ",
        ] {
            assert!(may_become_valid(ok.as_bytes()), "{ok}");
        }
        for never in [
            "{\"kind\":\"Event\", broken",
            "{\"kind\":\"Event\",}",
            "[1,]",
            "{\"a\":tx",
            "[01",
            "{} {",
            "{\"a\":\"x\ny\"}",
            "{\"a\":1]",
        ] {
            assert!(!may_become_valid(never.as_bytes()), "{never}");
        }
        // One value after another, as a line of concatenated values is read.
        assert!(Scanner::sequence().feed(b"{} {\"a\":").is_ok());
        assert!(Scanner::sequence().feed(b"{} {\"a\":,").is_err());
    }
}
