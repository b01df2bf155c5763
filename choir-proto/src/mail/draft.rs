//! A message being written, as a document: header lines (`To:`, `Cc:`, `Subject:`, and for
//! an answer `In-Reply-To:`), a blank line, then the text. `mail.compose` lays a draft out;
//! the daemon reads it back when it is sent.

use thiserror::Error;

use super::MailMessage;

/// How the title of a draft's document begins.
pub const DRAFT_TITLE: &str = "Mail: ";

/// A draft read back from its document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// The account to send from (its address); empty: the default account.
    pub from: String,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub in_reply_to: String,
    pub text: String,
}

/// Why a document is not a draft that can be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DraftError {
    #[error("line {line} is not a header (`Name: value`): end the headers with a blank line")]
    NotAHeader { line: usize },
    #[error("line {line}: this draft has no header `{name}` (From, To, Cc, Subject, In-Reply-To)")]
    UnknownHeader { line: usize, name: String },
    #[error("the draft names no recipient: fill in the `To:` line")]
    NoRecipient,
}

impl Draft {
    /// A new message from `from` (empty: the default account).
    pub fn new(from: &str) -> Self {
        Self {
            from: from.to_owned(),
            ..Self::default()
        }
    }

    /// An answer to `message`, quoting it.
    pub fn reply(from: &str, message: &MailMessage) -> Self {
        let header = &message.header;
        let mut text = if header.date.is_empty() {
            format!("\n\n{} wrote:\n", header.from)
        } else {
            format!("\n\nOn {}, {} wrote:\n", header.date, header.from)
        };
        for line in message.text.lines() {
            text.push_str(if line.is_empty() { ">" } else { "> " });
            text.push_str(line);
            text.push('\n');
        }
        Self {
            from: from.to_owned(),
            to: header.from.clone(),
            cc: String::new(),
            subject: prefixed("Re: ", &header.subject),
            in_reply_to: header.message_id.clone(),
            text,
        }
    }

    /// `message` passed on, with its header fields and text.
    pub fn forward(from: &str, message: &MailMessage) -> Self {
        let header = &message.header;
        let mut text = format!(
            "\n\n---------- Forwarded message ----------\nFrom: {}\nDate: {}\nSubject: {}\nTo: {}\n\n",
            header.from, header.date, header.subject, header.to
        );
        text.push_str(&message.text);
        Self {
            from: from.to_owned(),
            subject: prefixed("Fwd: ", &header.subject),
            text,
            ..Self::default()
        }
    }

    /// The document's title for this draft.
    pub fn title(&self) -> String {
        let subject: String = self.subject.chars().take(120).collect();
        if subject.is_empty() {
            format!("{DRAFT_TITLE}new message")
        } else {
            format!("{DRAFT_TITLE}{subject}")
        }
    }

    /// The document's text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut header = |name: &str, value: &str, always: bool| {
            if always || !value.is_empty() {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(&one_line(value));
                out.push('\n');
            }
        };
        header("From", &self.from, false);
        header("To", &self.to, true);
        header("Cc", &self.cc, false);
        header("Subject", &self.subject, true);
        header("In-Reply-To", &self.in_reply_to, false);
        out.push('\n');
        out.push_str(&self.text);
        out
    }

    /// Reads a draft back from a document's text.
    pub fn parse(text: &str) -> Result<Self, DraftError> {
        let mut draft = Draft::default();
        let mut rest = text;
        let mut line_no = 0;
        loop {
            line_no += 1;
            let (line, after) = match rest.split_once('\n') {
                Some((line, after)) => (line, after),
                None => (rest, ""),
            };
            rest = after;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(DraftError::NotAHeader { line: line_no })?;
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "from" => draft.from = value,
                "to" => draft.to = value,
                "cc" => draft.cc = value,
                "subject" => draft.subject = value,
                "in-reply-to" => draft.in_reply_to = value,
                _ => {
                    return Err(DraftError::UnknownHeader {
                        line: line_no,
                        name: name.trim().to_owned(),
                    })
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        if draft.to.trim().is_empty() && draft.cc.trim().is_empty() {
            return Err(DraftError::NoRecipient);
        }
        draft.text = rest.to_owned();
        Ok(draft)
    }
}

/// `subject` with `prefix` before it, unless it already starts so.
fn prefixed(prefix: &str, subject: &str) -> String {
    let trimmed = subject.trim();
    if trimmed
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    {
        trimmed.to_owned()
    } else {
        format!("{prefix}{trimmed}")
    }
}

/// A header value on one line: line breaks become spaces.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::MailHeader;
    use proptest::prelude::*;

    fn message() -> MailMessage {
        MailMessage {
            header: MailHeader {
                uid: 7,
                from: "bob@example.test".into(),
                to: "alice@example.test".into(),
                subject: "Lunch?".into(),
                date: "2026-12-05T12:00:00+00:00".into(),
                message_id: "<m7@example.test>".into(),
                size: 100,
                seen: true,
            },
            cc: String::new(),
            text: "Noon at the usual place?\n\nBob".into(),
            cut: false,
            attachments: Vec::new(),
            invitations: Vec::new(),
        }
    }

    #[test]
    fn a_reply_answers_the_sender_and_quotes_the_message() {
        let draft = Draft::reply("alice@example.test", &message());
        let read = Draft::parse(&draft.to_text()).unwrap();
        assert_eq!(read.to, "bob@example.test");
        assert_eq!(read.subject, "Re: Lunch?");
        assert_eq!(read.in_reply_to, "<m7@example.test>");
        assert!(read.text.contains("> Noon at the usual place?\n>\n> Bob\n"));
        // Answering an answer does not stack prefixes.
        let mut again = message();
        again.header.subject = "RE: Lunch?".into();
        assert_eq!(Draft::reply("", &again).subject, "RE: Lunch?");
    }

    #[test]
    fn a_forward_carries_the_text_and_has_no_recipient_yet() {
        let draft = Draft::forward("", &message());
        assert_eq!(draft.subject, "Fwd: Lunch?");
        assert!(draft.text.contains("From: bob@example.test"));
        assert!(draft.text.ends_with("Noon at the usual place?\n\nBob"));
        assert_eq!(
            Draft::parse(&draft.to_text()),
            Err(DraftError::NoRecipient),
            "sending it before naming a recipient is refused"
        );
    }

    #[test]
    fn a_broken_header_block_is_named_by_its_line() {
        assert_eq!(
            Draft::parse("To: a@b\nhello\n\ntext"),
            Err(DraftError::NotAHeader { line: 2 })
        );
        assert_eq!(
            Draft::parse("To: a@b\nBcc: c@d\n\ntext"),
            Err(DraftError::UnknownHeader {
                line: 2,
                name: "Bcc".into()
            })
        );
        let crlf = Draft::parse("To: a@b\r\nSubject: s\r\n\r\nhi\r\n").unwrap();
        assert_eq!((crlf.to.as_str(), crlf.text.as_str()), ("a@b", "hi\r\n"));
    }

    proptest! {
        /// A draft laid out and read back is the same draft (header values on one line).
        #[test]
        fn a_draft_round_trips(
            from in "[a-z@.]{0,12}",
            to in "[a-z@., ]{0,20}[a-z]",
            cc in "[a-z@.]{0,12}",
            subject in "[^\r\n]{0,30}",
            in_reply_to in "[<>a-z@.]{0,16}",
            text in "(?s).{0,200}",
        ) {
            let draft = Draft {
                from: from.trim().into(),
                to: to.trim().into(),
                cc: cc.trim().into(),
                subject: subject.trim().into(),
                in_reply_to: in_reply_to.trim().into(),
                text,
            };
            prop_assert_eq!(Draft::parse(&draft.to_text()).unwrap(), draft);
        }
    }
}
