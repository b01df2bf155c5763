//! Sending a message over SMTP, from the account's address.

use lettre::message::header::ContentType;
use lettre::message::Mailbox as Address;
use lettre::message::{MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::account::{Account, Security};
use crate::{MailError, TIMEOUT};

/// A message to send (or keep as a draft).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    /// The `Message-ID` of the message this answers (a reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

impl Outgoing {
    /// The message as it goes out from `from`: plain text, UTF-8.
    pub fn message(&self, from: &str) -> Result<lettre::Message, MailError> {
        if self.to.is_empty() {
            return Err(MailError::Compose("it has no recipient".into()));
        }
        // One line each: what the approval shows is what goes out.
        let one_line = |name: &str, text: &str| {
            if text.chars().any(char::is_control) {
                return Err(MailError::Compose(format!("the {name} must be one line")));
            }
            Ok(())
        };
        one_line("subject", &self.subject)?;
        if let Some(id) = &self.in_reply_to {
            one_line("in_reply_to", id)?;
        }
        let mut builder = lettre::Message::builder()
            .from(parse_address(from)?)
            .subject(self.subject.clone());
        for to in &self.to {
            builder = builder.to(parse_address(to)?);
        }
        for cc in &self.cc {
            builder = builder.cc(parse_address(cc)?);
        }
        if let Some(id) = &self.in_reply_to {
            let id = format!(
                "<{}>",
                id.trim().trim_start_matches('<').trim_end_matches('>')
            );
            builder = builder.in_reply_to(id.clone()).references(id);
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(self.body.clone())
            .map_err(|err| MailError::Compose(err.to_string()))
    }

    /// The message's bytes, as sent (for a draft kept on the server).
    pub fn raw(&self, from: &str) -> Result<Vec<u8>, MailError> {
        Ok(self.message(from)?.formatted())
    }
}

/// Sends `outgoing` from `account` through its SMTP server.
pub async fn send(account: &Account, outgoing: &Outgoing) -> Result<(), MailError> {
    deliver(account, outgoing.message(&account.address)?).await
}

/// Answers `invitation` from `account` to its organizer: an iTIP reply (`text/calendar;
/// method=REPLY`) with a line of text for those who read it as mail.
pub async fn answer(
    account: &Account,
    invitation: &crate::Invitation,
    answer: crate::Answer,
) -> Result<(), MailError> {
    let ics = invitation.reply(&account.address, answer)?;
    let (said, subject) = match answer {
        crate::Answer::Accept => ("accepted", "Accepted"),
        crate::Answer::Tentative => ("tentatively accepted", "Tentative"),
        crate::Answer::Decline => ("declined", "Declined"),
    };
    let title = invitation.event.title.replace(char::is_control, " ");
    let calendar_type = ContentType::parse("text/calendar; method=REPLY; charset=utf-8")
        .map_err(|err| MailError::Compose(err.to_string()))?;
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(format!("{} has {said}: {title}\n", account.address)),
        )
        .singlepart(SinglePart::builder().header(calendar_type).body(ics));
    let message = lettre::Message::builder()
        .from(parse_address(&account.address)?)
        .to(parse_address(&invitation.organizer)?)
        .subject(format!("{subject}: {title}"))
        .multipart(body)
        .map_err(|err| MailError::Compose(err.to_string()))?;
    deliver(account, message).await
}

/// Sends `message` through the account's SMTP server.
async fn deliver(account: &Account, message: lettre::Message) -> Result<(), MailError> {
    let server = account.smtp.to_string();
    let transport = transport(account)?;
    crate::within(&server, async {
        transport
            .send(message)
            .await
            .map(drop)
            .map_err(|err| smtp_error(&server, err))
    })
    .await
}

fn parse_address(who: &str) -> Result<Address, MailError> {
    who.trim()
        .parse::<Address>()
        .map_err(|err| MailError::Compose(format!("`{who}` is not an address ({err})")))
}

/// Whether the account's SMTP server answers (a connection and its greeting; the password
/// is tried when a message is sent).
pub async fn check_smtp(account: &Account) -> Result<(), MailError> {
    let server = account.smtp.to_string();
    let transport = transport(account)?;
    crate::within(&server, async {
        match transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Unreachable {
                server: server.clone(),
                reason: "it did not answer as an SMTP server".into(),
            }),
            Err(err) => Err(smtp_error(&server, err)),
        }
    })
    .await
}

fn transport(account: &Account) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    account.check()?;
    let host = account.smtp.host.as_str();
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
    let builder = match account.smtp.security {
        Security::Plain => builder,
        Security::Tls => builder.tls(Tls::Wrapper(tls_parameters(account)?)),
        Security::StartTls => builder.tls(Tls::Required(tls_parameters(account)?)),
    };
    Ok(builder
        .port(account.smtp.port)
        .credentials(Credentials::new(
            account.user.clone(),
            account.password.clone(),
        ))
        .timeout(Some(TIMEOUT))
        .build())
}

/// TLS checked against the web's roots and the account's own authority, if it has one.
fn tls_parameters(account: &Account) -> Result<TlsParameters, MailError> {
    let server = account.smtp.to_string();
    let mut parameters = TlsParameters::builder(account.smtp.host.clone());
    let private = account
        .ca
        .as_deref()
        .map(crate::tls::certificates)
        .transpose();
    for der in private
        .map_err(|err| crate::unreachable_at(&server, format!("TLS: {err}")))?
        .unwrap_or_default()
    {
        let certificate = Certificate::from_der(der.to_vec())
            .map_err(|err| crate::unreachable_at(&server, format!("TLS: {err}")))?;
        parameters = parameters.add_root_certificate(certificate);
    }
    parameters
        .build()
        .map_err(|err| crate::unreachable_at(&server, format!("TLS: {err}")))
}

fn smtp_error(server: &str, err: lettre::transport::smtp::Error) -> MailError {
    let code = err.status().map(|code| code.to_string());
    match code.as_deref() {
        Some("535" | "534" | "530") => MailError::LoginRefused {
            server: server.to_owned(),
            reason: err.to_string(),
        },
        Some(_) => MailError::Smtp(err.to_string()),
        None if err.is_timeout() => MailError::TimedOut {
            server: server.to_owned(),
        },
        None => MailError::Unreachable {
            server: server.to_owned(),
            reason: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        Outgoing {
            to: vec!["Bob <bob@example.test>".into()],
            cc: Vec::new(),
            subject: "lunch".into(),
            body: "Noon?\n".into(),
            in_reply_to: Some("m1@example.test".into()),
        }
    }

    #[test]
    fn a_reply_names_what_it_answers() {
        let raw = String::from_utf8(outgoing().raw("alice@example.test").unwrap()).unwrap();
        assert!(raw.contains("From: alice@example.test"), "{raw}");
        assert!(
            raw.contains("To: \"Bob\" <bob@example.test>")
                || raw.contains("To: Bob <bob@example.test>"),
            "{raw}"
        );
        assert!(raw.contains("In-Reply-To: <m1@example.test>"), "{raw}");
        assert!(raw.contains("Subject: lunch"), "{raw}");
    }

    #[test]
    fn a_message_without_a_good_recipient_is_not_made() {
        let mut none = outgoing();
        none.to.clear();
        assert_eq!(
            none.message("alice@example.test").unwrap_err().to_string(),
            "cannot make the message: it has no recipient"
        );
        let mut bad = outgoing();
        bad.to = vec!["bob at example".into()];
        assert!(bad
            .message("alice@example.test")
            .unwrap_err()
            .to_string()
            .contains("`bob at example`"));
        // A header cannot be smuggled in through the subject or the reply's id.
        let mut sneaky = outgoing();
        sneaky.subject = "hi\r\nBcc: eve@example.test".into();
        assert_eq!(
            sneaky.raw("alice@example.test").unwrap_err().to_string(),
            "cannot make the message: the subject must be one line"
        );
        let mut sneaky = outgoing();
        sneaky.in_reply_to = Some("x>\r\nBcc: eve@example.test".into());
        assert!(sneaky.raw("alice@example.test").is_err());
    }
}
