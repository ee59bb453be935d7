//! Runs every example in the docs pages: in ```console blocks, a `$ auditq …` line is a
//! command, an optional `? N` line its exit code (default 0), and the lines up to the next
//! command its exact output (stdout, then stderr).

use std::path::Path;
use std::process::Command;

struct Example {
    line: usize,
    args: Vec<String>,
    code: i32,
    expected: String,
}

fn examples(markdown: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut in_console = false;
    for (index, line) in markdown.lines().enumerate() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            let words = shell_words(command);
            assert_eq!(
                words[0],
                "auditq",
                "docs line {}: examples must run auditq",
                index + 1
            );
            examples.push(Example {
                line: index + 1,
                args: words[1..].to_vec(),
                code: 0,
                expected: String::new(),
            });
        } else if let Some(example) = examples.last_mut() {
            match line.strip_prefix("? ") {
                Some(code) if example.expected.is_empty() => example.code = code.parse().unwrap(),
                _ => {
                    example.expected.push_str(line);
                    example.expected.push('\n');
                }
            }
        }
    }
    examples
}

/// Splits like a POSIX shell for the forms the docs use: '…', "…" and bare words.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                current.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                current.extend(chars.by_ref().take_while(|&c| c != '"'));
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Runs the examples of `docs/<page>` and checks each one's output and exit code.
fn check_page(page: &str, at_least: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("docs").join(page)).unwrap();
    let examples = examples(&markdown);
    assert!(
        examples.len() >= at_least,
        "docs/{page} lost its examples ({} left)",
        examples.len()
    );
    for example in examples {
        let output = Command::new(env!("CARGO_BIN_EXE_auditq"))
            .args(&example.args)
            .current_dir(root)
            .env_remove("NO_COLOR")
            .env_remove("AUDITQ_PRESETS")
            .env("XDG_CONFIG_HOME", root.join("testdata/no-config"))
            .output()
            .unwrap();
        let got = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            got, example.expected,
            "docs/{page}:{}: auditq {:?} printed something else",
            example.line, example.args
        );
        assert_eq!(
            output.status.code(),
            Some(example.code),
            "docs/{page}:{}: exit code",
            example.line
        );
    }
}

#[test]
fn query_md_examples_produce_their_documented_output() {
    check_page("query.md", 20);
}

#[test]
fn forensics_md_examples_produce_their_documented_output() {
    check_page("forensics.md", 15);
}

#[test]
fn policy_md_examples_produce_their_documented_output() {
    check_page("policy.md", 5);
}

#[test]
fn rbac_md_examples_produce_their_documented_output() {
    check_page("rbac.md", 4);
}

#[test]
fn formats_md_examples_produce_their_documented_output() {
    check_page("formats.md", 12);
}

#[test]
fn webhook_md_examples_produce_their_documented_output() {
    check_page("webhook.md", 2);
}

#[test]
fn shell_words_follow_quotes() {
    assert_eq!(shell_words("a 'b c' \"d\"e"), ["a", "b c", "de"]);
}
