//! An `EventList` (the body of an audit webhook batch) cut into JSON lines, one item per
//! line, without parsing it: the items' own bytes, each completed with the `kind` and
//! `apiVersion` the apiserver leaves out of list items. Read as lines, the batch goes
//! through the block processor like a log file: the prefilter skips items that cannot
//! match, and a match is written byte for byte as it came instead of re-serialised.
//!
//! Only a plain list is cut: a top-level object whose members are `kind` (exactly
//! `"EventList"`), `items` (an array of objects) and any others (each checked to be valid
//! JSON), no key written with an escape, no key twice, no line break inside an item, and
//! no item with an `apiVersion` but no `kind`. Anything else gives `None` and the caller
//! reads the body as one document, as before: the result is the same either way, only
//! the time differs. An item's inside is not checked here (the parser checks it as a
//! line), only its brackets are matched.

/// The items of `body` as JSON lines (see the module docs), completed with
/// `"kind":"Event","apiVersion":<api_version>`; `None` when the body is not a plain list.
pub fn items_as_lines(body: &[u8], api_version: &str) -> Option<Vec<u8>> {
    let fill = format!(
        "\"kind\":\"Event\",\"apiVersion\":{}",
        serde_json::Value::from(api_version)
    );
    let mut out = Vec::with_capacity(body.len() + body.len() / 8);
    let mut keys: Vec<&[u8]> = Vec::new();
    let end = members(body, skip_ws(body, 0), |key, at| {
        if keys.contains(&key) {
            return None;
        }
        keys.push(key);
        if key == b"items" {
            return items(body, at, &fill, &mut out);
        }
        let end = value_end(body, at)?;
        let value = &body[at..end];
        let valid = if key == b"kind" {
            value == b"\"EventList\""
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(value).is_ok()
        };
        valid.then_some(end)
    })?;
    let has = |key: &[u8]| keys.contains(&key);
    (has(b"kind") && has(b"items") && skip_ws(body, end) == body.len()).then_some(out)
}

/// The array of items at `i`: each written to `out` as a line; returns where it ends.
fn items(body: &[u8], mut i: usize, fill: &str, out: &mut Vec<u8>) -> Option<usize> {
    if body.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(body, i + 1);
    if body.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        let (end, has_kind, has_api) = object(body, i)?;
        let item = &body[i..end];
        if memchr::memchr2(b'\n', b'\r', item).is_some() || (has_api && !has_kind) {
            return None;
        }
        if has_kind {
            out.extend_from_slice(item);
        } else {
            out.push(b'{');
            out.extend_from_slice(fill.as_bytes());
            let rest = &item[1..];
            if rest.get(skip_ws(rest, 0)).is_some_and(|&b| b != b'}') {
                out.push(b',');
            }
            out.extend_from_slice(rest);
        }
        out.push(b'\n');
        i = skip_ws(body, end);
        match body.get(i)? {
            b',' => i = skip_ws(body, i + 1),
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The object at `i`: where it ends, and whether it has the keys `kind` and
/// `apiVersion`.
fn object(body: &[u8], i: usize) -> Option<(usize, bool, bool)> {
    let (mut kind, mut api) = (false, false);
    let end = members(body, i, |key, at| {
        kind |= key == b"kind";
        api |= key == b"apiVersion";
        value_end(body, at)
    })?;
    Some((end, kind, api))
}

/// Walks the object at `i` (which must be `{`): `member` gets each key and where its
/// value starts, and returns where the value ends (`None` refuses the body). Returns
/// where the object ends; `None` when it is not an object, or a key is written with an
/// escape.
fn members<'a>(
    body: &'a [u8],
    i: usize,
    mut member: impl FnMut(&'a [u8], usize) -> Option<usize>,
) -> Option<usize> {
    if body.get(i) != Some(&b'{') {
        return None;
    }
    let mut i = skip_ws(body, i + 1);
    if body.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        if body.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(body, i)?;
        let key = &body[i + 1..key_end - 1];
        if key.contains(&b'\\') {
            return None;
        }
        i = skip_ws(body, key_end);
        if body.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(body, member(key, skip_ws(body, i + 1))?);
        match body.get(i)? {
            b',' => i = skip_ws(body, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// Where the value starting at `i` ends: strings to their closing quote, objects and
/// arrays to their matching bracket, anything else to the next delimiter.
fn value_end(body: &[u8], i: usize) -> Option<usize> {
    match body.get(i)? {
        b'"' => string_end(body, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < body.len() {
                match body[j] {
                    b'"' => {
                        j = string_end(body, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let len = body[i..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(body.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

/// `body[i]` is `"`: the index after the string's closing quote.
fn string_end(body: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', body.get(j..)?)?;
        if body[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while body.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(body: &str) -> Option<String> {
        items_as_lines(body.as_bytes(), "audit.k8s.io/v1").map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn items_become_lines_with_kind_and_api_version() {
        let body = r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[{"verb":"get","user":{"username":"a\"}"}},{},{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"list"}]}"#;
        assert_eq!(
            cut(body).unwrap(),
            concat!(
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","user":{"username":"a\"}"}}"#,
                "\n",
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1"}"#,
                "\n",
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"list"}"#,
                "\n"
            )
        );
        assert_eq!(
            cut(r#" {"items" : [ ] , "kind":"EventList"} "#).unwrap(),
            ""
        );
        assert_eq!(
            cut(r#"{"kind":"EventList","items":[ { "verb" : "get" } ]}"#).unwrap(),
            "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\", \"verb\" : \"get\" }\n"
        );
    }

    #[test]
    fn anything_else_is_left_to_the_parser() {
        for body in [
            r#"{"kind":"Event","verb":"get"}"#,
            r#"{"kind":"EventList"}"#,
            r#"{"items":[]}"#,
            r#"{"kind":"EventList","items":[1]}"#,
            r#"{"kind":"EventList","items":[{"apiVersion":"v1"}]}"#,
            r#"{"kind":"EventList","items":[{"verb":"get"}]} x"#,
            r#"{"kind":"EventList","kind":"EventList","items":[]}"#,
            r#"{"kind":"EventList","\u0069tems":[],"items":[]}"#,
            r#"{"kind":"EventList","metadata":{,},"items":[]}"#,
            "{\"kind\":\"EventList\",\"items\":[{\"verb\":\n\"get\"}]}",
            r#"{"kind":"EventList","items":[{"verb":"get"}"#,
            r#"{"kind":"EventList","items":[{"verb":"get}]}"#,
            "",
            "[]",
        ] {
            assert_eq!(cut(body), None, "{body}");
        }
    }
}
