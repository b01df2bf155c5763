//! What a mail window shows, as the daemon fetched it from the account's IMAP server: a page
//! of a folder's headers, and one message's text.
//!
//! The log holds these (the headers of each page shown, a message's text up to
//! [`MAIL_TEXT_BYTES`], the names and sizes of its attachments), so every client, a replay and
//! a share show the same window. Bodies are fetched when a message is opened, one at a time,
//! and are not kept anywhere else: the whole message, its attachments included, stays on the
//! server. Passwords are never in the log.

use serde::{Deserialize, Serialize};

mod draft;

pub use draft::{Draft, DraftError, DRAFT_TITLE};

/// Headers a page of a folder holds: the newest first, then one page further back per step.
pub const MAIL_PAGE: u32 = 50;
/// Bytes of a message's text a `mail.message_shown` event carries at most; the rest is cut
/// (and the message says so), and stays on the server.
pub const MAIL_TEXT_BYTES: usize = 64 * 1024;
/// Longest folder name a command may name.
pub const MAX_FOLDER_CHARS: usize = 1000;

/// A message as a list shows it. `uid` is the server's, within the folder's `validity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailHeader {
    pub uid: u32,
    pub from: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    pub subject: String,
    /// RFC 3339 as the message says (empty when it says nothing readable).
    #[serde(default)]
    pub date: String,
    /// Its `Message-ID`, which answers refer to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message_id: String,
    #[serde(default)]
    pub size: u32,
    #[serde(default)]
    pub seen: bool,
}

/// An attachment, listed; its bytes stay on the server until saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailAttachment {
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// A message opened in a mail window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    pub header: MailHeader,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cc: String,
    /// The plain text, or its HTML turned to text; at most [`MAIL_TEXT_BYTES`].
    pub text: String,
    /// Whether `text` was cut at [`MAIL_TEXT_BYTES`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<MailAttachment>,
    /// The invitations it carries, each as a line (`REQUEST: Standup, 2026-12-07 09:00`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invitations: Vec<String>,
}

impl MailMessage {
    /// Cuts `text` to [`MAIL_TEXT_BYTES`] on a character boundary, marking it cut.
    pub fn bound(mut self) -> Self {
        if self.text.len() > MAIL_TEXT_BYTES {
            let mut end = MAIL_TEXT_BYTES;
            while !self.text.is_char_boundary(end) {
                end -= 1;
            }
            self.text.truncate(end);
            self.cut = true;
        }
        self
    }
}

/// How an invitation is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationAnswer {
    Accept,
    Tentative,
    Decline,
}

impl InvitationAnswer {
    /// How people say it: `accepted`.
    pub fn said(self) -> &'static str {
        match self {
            InvitationAnswer::Accept => "accepted",
            InvitationAnswer::Tentative => "tentatively accepted",
            InvitationAnswer::Decline => "declined",
        }
    }
}

/// An account's settings as `choir account add --from-env` reads them, by name
/// (`CHOIR_IMAP_URL`, `CHOIR_MAIL_PASSWORD`, ...), sent by a client's account form. The daemon
/// checks them against the servers and keeps them out of the log; shown, the password is
/// masked.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountSettings(pub std::collections::BTreeMap<String, String>);

/// The setting that holds the password.
pub const PASSWORD_SETTING: &str = "CHOIR_MAIL_PASSWORD";

impl std::fmt::Debug for AccountSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.0 {
            if name == PASSWORD_SETTING {
                map.entry(name, &"••••");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// A subject without the `Re:` / `Fwd:` prefixes answers put before it, for threading.
pub fn thread_subject(subject: &str) -> &str {
    let mut rest = subject.trim();
    'strip: loop {
        for prefix in ["re:", "fwd:", "fw:"] {
            if rest
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            {
                rest = rest[prefix.len()..].trim_start();
                continue 'strip;
            }
        }
        return rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> MailMessage {
        MailMessage {
            header: MailHeader {
                uid: 1,
                from: "a@example.test".into(),
                to: String::new(),
                subject: "s".into(),
                date: String::new(),
                message_id: String::new(),
                size: 0,
                seen: false,
            },
            cc: String::new(),
            text: text.into(),
            cut: false,
            attachments: Vec::new(),
            invitations: Vec::new(),
        }
    }

    #[test]
    fn a_long_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(MAIL_TEXT_BYTES); // two bytes each
        let bound = message(&text).bound();
        assert!(bound.cut);
        assert!(bound.text.len() <= MAIL_TEXT_BYTES);
        assert_eq!(bound.text.chars().count(), MAIL_TEXT_BYTES / 2);
        let short = message("hello").bound();
        assert!(!short.cut);
        assert_eq!(short.text, "hello");
    }

    #[test]
    fn a_password_is_not_shown_by_debug() {
        let settings = AccountSettings(
            [
                (PASSWORD_SETTING.to_owned(), "hunter2-secret".to_owned()),
                ("CHOIR_MAIL_USER".to_owned(), "alice".to_owned()),
            ]
            .into(),
        );
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
    }

    #[test]
    fn answers_thread_with_what_they_answer() {
        assert_eq!(thread_subject("Re: Fwd: RE: lunch"), "lunch");
        assert_eq!(thread_subject("fw:lunch"), "lunch");
        assert_eq!(thread_subject("  lunch "), "lunch");
        assert_eq!(thread_subject("Release notes"), "Release notes");
        assert_eq!(thread_subject("Re:"), "");
        assert_eq!(thread_subject("é"), "é");
    }
}
