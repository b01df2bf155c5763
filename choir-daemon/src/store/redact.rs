//! Secrets kept out of the log. Before an event is committed, every share token in it
//! (`chs_…`, whoever's and however it got there: a tool's output, a shell's, a chat message)
//! and the sandbox's own tokens are replaced by a marker, and so are the passwords of the
//! user's mail accounts. So nothing that reads the log — a share made with its history, time
//! travel, a backup — finds a token or a password that works.

use std::sync::{Arc, RwLock};

/// What a share token becomes in the log.
pub const SHARE_TOKEN_MARK: &str = "chs_[removed]";
/// What one of the sandbox's own tokens becomes in the log.
pub const TOKEN_MARK: &str = "[sandbox token removed]";
/// What a mail account's password becomes in the log.
pub const PASSWORD_MARK: &str = "[password removed]";
/// Shortest password taken literally (a shorter one is too much like ordinary words).
const MIN_PASSWORD: usize = 8;
/// What every share token starts with.
const SHARE_PREFIX: &str = "chs_";
/// Shortest secret taken literally (shorter ones would match ordinary text).
const MIN_SECRET: usize = 16;

/// Finds and replaces secrets; cheap to clone (clones share the list of exact secrets).
#[derive(Clone, Default)]
pub struct Redactor {
    exact: Arc<RwLock<Vec<String>>>,
    passwords: Arc<RwLock<Vec<String>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    /// Replaces the exact secrets looked for (the sandbox's tokens, which change when one is
    /// rotated); share tokens are found by their shape.
    pub fn set_secrets(&self, secrets: Vec<String>) {
        let secrets = secrets
            .into_iter()
            .filter(|secret| secret.len() >= MIN_SECRET)
            .collect();
        *self
            .exact
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = secrets;
    }

    /// Replaces the passwords looked for (the mail accounts', as they are kept).
    pub fn set_passwords(&self, passwords: Vec<String>) {
        let mut passwords: Vec<String> = passwords
            .into_iter()
            .filter(|password| password.chars().count() >= MIN_PASSWORD)
            .collect();
        // The longest first: one that starts another must not leave the other's end.
        passwords.sort_by_key(|password| std::cmp::Reverse(password.len()));
        *self
            .passwords
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = passwords;
    }

    /// An event's payload (JSON text) with every secret in its strings replaced, or `None`
    /// when it holds none: the usual case, found with a few substring searches of the text.
    /// (Tokens need no escaping in JSON, so a token in a string is in the text as it is.)
    pub fn redact_json(&self, data: &str) -> Option<String> {
        if self.redact(data).is_none() && !self.holds_escaped_password(data) {
            return None;
        }
        let mut value: serde_json::Value = serde_json::from_str(data).ok()?;
        self.redact_value(&mut value).then(|| value.to_string())
    }

    /// Whether JSON text `data` holds a password as JSON writes it (a `"` or `\\` in it is
    /// escaped there, so the text search for the password itself misses it).
    fn holds_escaped_password(&self, data: &str) -> bool {
        let passwords = self
            .passwords
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        passwords.iter().any(|password| {
            let quoted = serde_json::to_string(password).unwrap_or_default();
            let escaped = quoted
                .get(1..quoted.len().saturating_sub(1))
                .unwrap_or_default();
            escaped != password && data.contains(escaped)
        })
    }

    /// Replaces the secrets in every string of `value`; says whether there were any.
    fn redact_value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => match self.redact(text) {
                Some(clean) => {
                    *text = clean;
                    true
                }
                None => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |found, item| self.redact_value(item) | found),
            Value::Object(members) => members
                .values_mut()
                .fold(false, |found, member| self.redact_value(member) | found),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// `text` with every secret replaced, or `None` when it holds none.
    pub fn redact(&self, text: &str) -> Option<String> {
        let exact = self
            .exact
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let passwords = self
            .passwords
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let has_share = has_share_token(text);
        let has_exact = exact.iter().any(|secret| text.contains(secret.as_str()));
        let has_password = passwords
            .iter()
            .any(|secret| text.contains(secret.as_str()));
        if !has_share && !has_exact && !has_password {
            return None;
        }
        let mut clean = text.to_owned();
        for secret in exact.iter() {
            if clean.contains(secret.as_str()) {
                clean = clean.replace(secret.as_str(), TOKEN_MARK);
            }
        }
        for password in passwords.iter() {
            if clean.contains(password.as_str()) {
                clean = clean.replace(password.as_str(), PASSWORD_MARK);
            }
        }
        if has_share {
            clean = replace_share_tokens(&clean);
        }
        Some(clean)
    }
}

/// The characters a share token is made of after its prefix.
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The spans of `text` that are share tokens or parts of one: `chs_` followed by token
/// characters, and a token's body without its prefix (ten hex digits, `_`, 64 hex digits:
/// what is left of one cut just after its start, see [`unfinished_share_token`]). In order,
/// possibly overlapping.
fn share_tokens(text: &str) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = text
        .match_indices(SHARE_PREFIX)
        .filter_map(|(at, _)| {
            let rest = &text[at + SHARE_PREFIX.len()..];
            let len = rest.find(|c| !token_char(c)).unwrap_or(rest.len());
            (len > 0).then_some((at, at + SHARE_PREFIX.len() + len))
        })
        .collect();
    let bytes = text.as_bytes();
    let hex = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_hexdigit);
    for (at, _) in text.match_indices('_') {
        if at >= 10 && at + 65 <= bytes.len() && hex(at - 10..at) && hex(at + 1..at + 65) {
            spans.push((at - 10, at + 65));
        }
    }
    spans.sort_unstable();
    spans
}

fn has_share_token(text: &str) -> bool {
    !share_tokens(text).is_empty()
}

fn replace_share_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in share_tokens(text) {
        if end <= last {
            continue;
        }
        if start >= last {
            out.push_str(&text[last..start]);
            out.push_str(SHARE_TOKEN_MARK);
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// How many bytes at the end of `text` are the start of a share token that has not come
/// whole yet (`chs_`, ten hex digits, `_`, 64 hex digits), from its first digit on. A shell's
/// output is recorded in pieces: such a tail waits for the next piece, so that no event holds
/// the rest of a token without what the redactor recognises. (A piece that ends within
/// `chs_` is not held, so typing stays as quick as ever: what follows it is the token's
/// body, which the redactor recognises alone.)
pub fn unfinished_share_token(text: &str) -> usize {
    const LEN: usize = 4 + 10 + 1 + 64;
    let bytes = text.as_bytes();
    let fits = |at: usize| {
        bytes[at..].iter().enumerate().all(|(i, &byte)| match i {
            0 => byte == b'c',
            1 => byte == b'h',
            2 => byte == b's',
            3 | 14 => byte == b'_',
            _ => byte.is_ascii_hexdigit(),
        })
    };
    let from = bytes.len().saturating_sub(LEN - 1);
    (from..bytes.len().saturating_sub(4))
        .find(|&at| fits(at))
        .map_or(0, |at| bytes.len() - at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_passwords_are_taken_out_but_not_short_ones() {
        let redactor = Redactor::default();
        redactor.set_passwords(vec!["hunter22-pw".into(), "short".into()]);
        assert_eq!(
            redactor.redact("export CHOIR_MAIL_PASSWORD=hunter22-pw; echo short"),
            Some("export CHOIR_MAIL_PASSWORD=[password removed]; echo short".into())
        );
        assert_eq!(redactor.redact("nothing to see"), None);
        // In an event's JSON too, and forgotten once the account is gone.
        assert_eq!(
            redactor.redact_json(r#"{"output":"pw=hunter22-pw"}"#),
            Some(r#"{"output":"pw=[password removed]"}"#.into())
        );
        redactor.set_passwords(Vec::new());
        assert_eq!(redactor.redact("hunter22-pw"), None);
        // One that starts another leaves none of the other; quotes and backslashes in one
        // are found in an event's JSON too.
        redactor.set_passwords(vec![
            "password1".into(),
            "password12".into(),
            r#"pa"ss\word9"#.into(),
        ]);
        assert_eq!(
            redactor.redact("password12 password1"),
            Some("[password removed] [password removed]".into())
        );
        assert_eq!(
            redactor.redact_json(r#"{"output":"pw=pa\"ss\\word9"}"#),
            Some(r#"{"output":"pw=[password removed]"}"#.into())
        );
    }

    fn token() -> String {
        format!("chs_0123456789_{}", "ab".repeat(32))
    }

    #[test]
    fn share_tokens_and_the_sandboxs_tokens_are_replaced_and_nothing_else() {
        let redactor = Redactor::default();
        redactor.set_secrets(vec!["s".repeat(40), "short".into()]);
        let text = format!(
            "{{\"output\":\"MY_TOKEN={} and {}\\nchs_ alone, chs_[removed], short\"}}",
            token(),
            "s".repeat(40)
        );
        let clean = redactor.redact(&text).unwrap();
        assert_eq!(
            clean,
            format!(
                "{{\"output\":\"MY_TOKEN={SHARE_TOKEN_MARK} and {TOKEN_MARK}\\nchs_ alone, chs_[removed], short\"}}"
            )
        );
        assert!(redactor.redact(&clean).is_none(), "already clean");
        assert!(redactor
            .redact("nothing secret here, not even chs_")
            .is_none());
        // Part of a token is a token too.
        assert_eq!(
            redactor.redact("x chs_0123_abc y").unwrap(),
            format!("x {SHARE_TOKEN_MARK} y")
        );
        // A token cut anywhere: each piece recorded alone is clean, given that a piece ending
        // with the token's first digits waits for the next.
        let token = token();
        for cut in 1..token.len() {
            let (first, second) = token.split_at(cut);
            let (first, second) = match unfinished_share_token(first) {
                0 => (first.to_owned(), second.to_owned()),
                held => (
                    first[..first.len() - held].to_owned(),
                    format!("{}{second}", &first[first.len() - held..]),
                ),
            };
            let secret = &token[15..];
            for piece in [&first, &second] {
                let clean = redactor.redact(piece).unwrap_or_else(|| piece.clone());
                assert!(
                    !clean.contains(&secret[..16.min(secret.len())])
                        && !clean.contains(&secret[secret.len() - 16..]),
                    "cut at {cut}: {clean}"
                );
            }
        }
        // In an event's payload, strings are cleaned and the JSON stays whole, even where a
        // token's digits follow an escape.
        let payload = serde_json::json!({
            "output": format!("\u{e9}{}\n{}", &token[4..], "s".repeat(40)),
            "n": 1,
        })
        .to_string();
        let clean: serde_json::Value =
            serde_json::from_str(&redactor.redact_json(&payload).unwrap()).unwrap();
        assert_eq!(
            clean,
            serde_json::json!({ "output": format!("\u{e9}{SHARE_TOKEN_MARK}\n{TOKEN_MARK}"), "n": 1 })
        );
        assert!(redactor.redact_json("{\"output\":\"fine\"}").is_none());
        // A rotated secret is looked for instead of the old one.
        redactor.set_secrets(vec!["t".repeat(40)]);
        assert!(redactor.redact(&"s".repeat(40)).is_none());
        assert!(redactor.redact(&"t".repeat(40)).is_some());
    }

    #[test]
    fn only_a_tail_that_could_still_become_a_token_is_unfinished() {
        let token = token();
        for cut in 5..token.len() {
            let text = format!("$ echo {}", &token[..cut]);
            assert_eq!(unfinished_share_token(&text), cut, "{text}");
        }
        // Typing is never held back, not even `chs_`.
        for cut in 1..5 {
            assert_eq!(unfinished_share_token(&token[..cut]), 0);
        }
        assert_eq!(unfinished_share_token(&format!("$ echo {token}")), 0);
        assert_eq!(unfinished_share_token("$ echo chs_01x"), 0);
        assert_eq!(unfinished_share_token("$ ls\r\n"), 0);
        assert_eq!(unfinished_share_token(""), 0);
    }
}
