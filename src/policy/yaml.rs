//! A YAML document as a tree that remembers where every node starts (line and column),
//! keeps duplicate keys (the apiserver's strict decoder refuses them; lint reports them)
//! and resolves plain scalars the way the apiserver's YAML reader (YAML 1.1) does.
//! Built on the events of `saphyr-parser`.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A place in the file: line and column, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A scalar, resolved as YAML 1.1 (sigs.k8s.io/yaml) resolves it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(String),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar(Scalar, Pos),
    Seq(Vec<Node>, Pos),
    /// Entries in file order, duplicates kept.
    Map(Vec<(String, Pos, Node)>, Pos),
}

impl Node {
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) => *p,
        }
    }

    /// What kind of value this is, in the words of an error message.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(Scalar::Null, _) => "null",
            Node::Scalar(Scalar::Bool(_), _) => "a boolean",
            Node::Scalar(Scalar::Number(_), _) => "a number",
            Node::Scalar(Scalar::Str(_), _) => "a string",
            Node::Seq(..) => "a list",
            Node::Map(..) => "a map",
        }
    }
}

/// A YAML syntax error, with where it is and a plain explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(m: saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Parses the first document of `text` (a later document is an error, as the apiserver
/// reads one object). An empty file gives `Ok(None)`.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    if let Some(line) = text.lines().position(|l| {
        let indent: &str = &l[..l.len() - l.trim_start().len()];
        indent.contains('\t') && !l.trim().is_empty()
    }) {
        return Err(SyntaxError {
            pos: Pos {
                line: line + 1,
                col: 1,
            },
            message: "a tab in the indentation: YAML indents with spaces only".into(),
        });
    }
    let mut stack: Vec<Building> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| SyntaxError {
            pos: pos_of(*e.marker()),
            message: explain(e.info()),
        })?;
        let pos = pos_of(span.start);
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        pos,
                        message: "a second YAML document (`---`): the policy file holds one Policy"
                            .into(),
                    });
                }
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Building::Seq(Vec::new(), pos, anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Building::Map(Vec::new(), None, pos, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Building::Seq(items, p, anchor)) => {
                    remember(&mut anchors, anchor, Node::Seq(items, p))
                }
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Building::Map(entries, _, p, anchor)) => {
                    remember(&mut anchors, anchor, Node::Map(entries, p))
                }
                _ => continue,
            },
            Event::Scalar(value, style, anchor, tag) => {
                let scalar = if style == ScalarStyle::Plain && tag.is_none() {
                    resolve(&value)
                } else {
                    Scalar::Str(value.into_owned())
                };
                remember(&mut anchors, anchor, Node::Scalar(scalar, pos))
            }
            Event::Alias(id) => match anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, node)) => node.clone(),
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "an alias (*name) to an anchor that is not defined before it"
                            .into(),
                    });
                }
            },
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Building::Seq(items, ..)) => items.push(node),
            Some(Building::Map(entries, key, ..)) => match key.take() {
                None => {
                    let text = match &node {
                        Node::Scalar(Scalar::Str(s), _) | Node::Scalar(Scalar::Number(s), _) => {
                            s.clone()
                        }
                        Node::Scalar(Scalar::Bool(b), _) => b.to_string(),
                        Node::Scalar(Scalar::Null, _) => "null".into(),
                        _ => {
                            return Err(SyntaxError {
                                pos: node.pos(),
                                message: "a key that is a list or a map: keys are names".into(),
                            });
                        }
                    };
                    *key = Some((text, node.pos()));
                }
                Some((k, kpos)) => entries.push((k, kpos, node)),
            },
        }
    }
    Ok(root)
}

enum Building {
    Seq(Vec<Node>, Pos, usize),
    Map(Vec<(String, Pos, Node)>, Option<(String, Pos)>, Pos, usize),
}

fn remember(anchors: &mut Vec<(usize, Node)>, anchor: usize, node: Node) -> Node {
    if anchor > 0 {
        anchors.push((anchor, node.clone()));
    }
    node
}

/// Plain scalars as YAML 1.1 (go-yaml v2, which sigs.k8s.io/yaml uses) reads them.
fn resolve(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            return Scalar::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            return Scalar::Bool(false);
        }
        _ => {}
    }
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    let is_int = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let is_hex =
        t.starts_with("0x") && t.len() > 2 && t[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let is_float = t.parse::<f64>().is_ok()
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b));
    let special = matches!(t, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN");
    if is_int || is_hex || is_float || special {
        Scalar::Number(text.to_string())
    } else {
        Scalar::Str(text.to_string())
    }
}

/// The scanner's words, with what they usually mean in a hand-written file.
fn explain(info: &str) -> String {
    let hint = if info.contains("mapping values are not allowed") {
        " (a `key: value` where a value was expected: check the indentation of this line and the one before, or quote a value that holds `: `)"
    } else if info.contains("did not find expected") || info.contains("block") {
        " (the indentation of this line does not fit the lines around it)"
    } else if info.contains("tab") {
        " (YAML indents with spaces only)"
    } else {
        ""
    };
    format!("YAML syntax: {info}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_duplicates_and_scalars() {
        let text = "a: 1\nb:\n  - x\n  - \"yes\"\n  - yes\na: ~\n";
        let Some(Node::Map(entries, _)) = parse(text).unwrap() else {
            panic!()
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].1, Pos { line: 1, col: 1 });
        assert_eq!(entries[2].0, "a");
        assert_eq!(entries[2].1, Pos { line: 6, col: 1 });
        let Node::Seq(items, p) = &entries[1].2 else {
            panic!()
        };
        assert_eq!(*p, Pos { line: 3, col: 3 });
        assert_eq!(
            items[0],
            Node::Scalar(Scalar::Str("x".into()), Pos { line: 3, col: 5 })
        );
        assert!(matches!(items[1], Node::Scalar(Scalar::Str(_), _)));
        assert!(matches!(items[2], Node::Scalar(Scalar::Bool(true), _)));
        assert!(matches!(entries[0].2, Node::Scalar(Scalar::Number(_), _)));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let e = parse("rules:\n  - level: None\n   verbs: [get]\n").unwrap_err();
        assert_eq!(e.pos.line, 3, "{e:?}");
        let e = parse("rules:\n\t- level: None\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.contains("tab"));
        assert_eq!(parse("").unwrap(), None);
    }
}
