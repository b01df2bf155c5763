//! Messages as ChoirOS shows them: a header line for lists and searches, and a message read
//! whole (its text, HTML turned to text, and its attachments listed), made from MIME.

use std::fmt;
use std::str::FromStr;

use mail_parser::{Address, MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};

use crate::MailError;

/// Where a message is: its folder, the folder's UIDVALIDITY and its UID. Written
/// `INBOX/1712345678/42`; a folder renewed on the server (another UIDVALIDITY) makes old
/// ids name nothing rather than another message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct MessageId {
    pub folder: String,
    pub validity: u32,
    pub uid: u32,
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.folder, self.validity, self.uid)
    }
}

impl FromStr for MessageId {
    type Err = MailError;

    /// The folder may hold `/` itself: the two numbers are taken from the end.
    fn from_str(text: &str) -> Result<Self, MailError> {
        let bad = || MailError::BadId(text.to_owned());
        let mut parts = text.trim().rsplitn(3, '/');
        let uid = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let validity = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let folder = parts.next().filter(|f| !f.is_empty()).ok_or_else(bad)?;
        Ok(Self {
            folder: folder.to_owned(),
            validity,
            uid,
        })
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for MessageId {
    type Error = MailError;

    fn try_from(text: String) -> Result<Self, MailError> {
        text.parse()
    }
}

/// A message as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub id: MessageId,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// RFC 3339, as the message says (empty when it says nothing readable).
    pub date: String,
    /// Its `Message-ID`, for replies.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message_id: String,
    pub size: u32,
    pub seen: bool,
}

/// An attachment, listed (its bytes stay on the server until saved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

/// A message read whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub header: Header,
    pub cc: String,
    /// The plain text, or the HTML turned to text when there is no plain part.
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// Invitations in its `text/calendar` parts.
    pub invitations: Vec<crate::Invitation>,
}

/// The fields of a header block (or a whole message) that a [`Header`] holds.
pub(crate) struct Fields {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub date: String,
    pub message_id: String,
}

/// Reads the header fields of `raw` (a header block or a whole message); `None` when it is
/// not MIME at all.
pub(crate) fn fields(raw: &[u8]) -> Option<Fields> {
    let message = MessageParser::default().parse_headers(raw)?;
    Some(Fields {
        from: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: message.subject().unwrap_or_default().to_owned(),
        date: message.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
    })
}

/// Reads a whole message: its header (`id`, `size` and `seen` are the server's), text and
/// attachments.
pub(crate) fn read(raw: &[u8], id: MessageId, size: u32, seen: bool) -> Result<Message, MailError> {
    let malformed = || MailError::Malformed(id.to_string());
    let message = MessageParser::default().parse(raw).ok_or_else(malformed)?;
    let fields = fields(raw).ok_or_else(malformed)?;
    let text = message
        .body_text(0)
        .map(|text| text.into_owned())
        .unwrap_or_default();
    let attachments = message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().unwrap_or("unnamed").to_owned(),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            size: part.contents().len(),
        })
        .collect();
    let invitations = message
        .parts
        .iter()
        .filter(|part| part.is_content_type("text", "calendar"))
        .filter_map(|part| part.text_contents())
        .flat_map(crate::invitation::invitations)
        .collect();
    Ok(Message {
        invitations,
        header: Header {
            id,
            from: fields.from,
            to: fields.to,
            subject: fields.subject,
            date: fields.date,
            message_id: fields.message_id,
            size,
            seen,
        },
        cc: fields.cc,
        text,
        attachments,
    })
}

/// The attachment named `name` (the first, if several are) of the message `raw`: its name
/// and its bytes, decoded.
pub(crate) fn attachment(
    raw: &[u8],
    id: &MessageId,
    name: &str,
) -> Result<(String, Vec<u8>), MailError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| MailError::Malformed(id.to_string()))?;
    let found = message
        .attachments()
        .find(|part| part.attachment_name().unwrap_or("unnamed") == name);
    match found {
        Some(part) => Ok((name.to_owned(), part.contents().to_vec())),
        None => Err(MailError::NoAttachment {
            id: id.to_string(),
            name: name.to_owned(),
        }),
    }
}

/// Addresses as a person reads them: `Name <address>, …`.
fn addresses(list: Option<&Address<'_>>) -> String {
    let Some(list) = list else {
        return String::new();
    };
    list.iter()
        .map(|addr| match (&addr.name, &addr.address) {
            (Some(name), Some(address)) => format!("{name} <{address}>"),
            (None, Some(address)) => address.to_string(),
            (Some(name), None) => name.to_string(),
            (None, None) => String::new(),
        })
        .filter(|one| !one.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> MessageId {
        "INBOX/7/42".parse().unwrap()
    }

    #[test]
    fn ids_round_trip_and_keep_slashes_in_folder_names() {
        let id: MessageId = "Archive/2026/Dec/99/5".parse().unwrap();
        assert_eq!(
            (id.folder.as_str(), id.validity, id.uid),
            ("Archive/2026/Dec", 99, 5)
        );
        assert_eq!(id.to_string().parse::<MessageId>().unwrap(), id);
        for bad in ["", "42", "INBOX/42", "/1/2", "INBOX/x/2", "INBOX/1/-2"] {
            assert!(bad.parse::<MessageId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_message_is_read_with_its_text_and_attachments_listed() {
        let raw = concat!(
            "From: Bob <bob@example.test>\r\n",
            "To: alice@example.test\r\n",
            "Subject: =?utf-8?q?caf=C3=A9?= plans\r\n",
            "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n",
            "Message-ID: <m1@example.test>\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n",
            "\r\n",
            "--b\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "\r\n",
            "<p>Meet at <b>noon</b>.</p>\r\n",
            "--b\r\n",
            "Content-Type: application/pdf\r\n",
            "Content-Disposition: attachment; filename=plan.pdf\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
            "JVBERi0xLjQK\r\n",
            "--b--\r\n",
        );
        let message = read(raw.as_bytes(), id(), 600, false).unwrap();
        assert_eq!(message.header.from, "Bob <bob@example.test>");
        assert_eq!(message.header.subject, "café plans");
        assert_eq!(message.header.date, "2026-12-04T10:00:00Z");
        assert_eq!(message.header.message_id, "m1@example.test");
        assert_eq!(message.text.trim(), "Meet at noon.");
        assert_eq!(
            message.attachments,
            vec![Attachment {
                name: "plan.pdf".into(),
                content_type: "application/pdf".into(),
                size: 9
            }]
        );
    }

    #[test]
    fn an_attachment_is_found_by_name_and_decoded() {
        let raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n--b--\r\n";
        assert_eq!(
            attachment(raw, &id(), "a.bin").unwrap(),
            ("a.bin".to_owned(), vec![0, 1, 2, 255])
        );
        assert_eq!(
            attachment(raw, &id(), "b.bin").unwrap_err().to_string(),
            "message INBOX/7/42 has no attachment named `b.bin` (mail_read lists them)"
        );
    }

    #[test]
    fn a_malformed_message_is_read_as_far_as_it_goes_and_never_panics() {
        for raw in [
            &b""[..],
            b"\xff\xfe\x00garbage",
            b"Subject: half\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n",
            b"From: <<<>>>\r\n\r\nbody",
        ] {
            match read(raw, id(), 1, true) {
                Ok(message) => assert_eq!(message.header.id, id()),
                Err(err) => assert_eq!(err.to_string(), "message INBOX/7/42 cannot be read as MIME"),
            }
        }
    }
}
