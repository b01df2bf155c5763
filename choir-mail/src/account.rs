//! An account: its IMAP and SMTP servers, its address, and the credentials they share.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use url::Url;

/// A mail account. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The address mail is sent from, e.g. `alice@example.org`.
    pub address: String,
    pub user: String,
    pub password: String,
    pub imap: ServerUrl,
    pub smtp: ServerUrl,
    /// The CalDAV server or calendar, with the same user and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caldav: Option<String>,
    /// Certificates (PEM) of a private authority the servers' certificates may come from,
    /// trusted besides the web's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("address", &self.address)
            .field("user", &self.user)
            .field("imap", &self.imap)
            .field("smtp", &self.smtp)
            .field("caldav", &self.caldav)
            .field("private_ca", &self.ca.is_some())
            .finish_non_exhaustive()
    }
}

/// What is wrong with an account's settings.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AccountError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name}: `{value}` is not a URL like {example}")]
    BadUrl {
        name: &'static str,
        value: String,
        example: &'static str,
    },
    #[error(
        "{name}: `{value}` would send the password in plain text to another machine; use {tls}"
    )]
    Plaintext {
        name: &'static str,
        value: String,
        tls: &'static str,
    },
    #[error("`{0}` is not an e-mail address")]
    BadAddress(String),
    #[error("CHOIR_MAIL_CA_PEM holds no PEM certificate ({0})")]
    BadCa(String),
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// TLS from the first byte (`imaps://`, `smtps://`).
    Tls,
    /// Plain, then upgraded with STARTTLS, which is required (`smtp://` to another machine).
    StartTls,
    /// Plain: only to a server on this machine.
    Plain,
}

/// Where a server is and how to reach it safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl ServerUrl {
    /// An IMAP server: `imaps://host[:993]`, or `imap://host[:143]` on this machine.
    pub fn imap(name: &'static str, value: &str) -> Result<Self, AccountError> {
        let example = "imaps://imap.example.org (or imap://127.0.0.1:1143 on this machine)";
        let (scheme, host, port) = parse(name, value, example)?;
        let url = match scheme.as_str() {
            "imaps" => Self::new(host, port.unwrap_or(993), Security::Tls),
            "imap" => Self::new(host, port.unwrap_or(143), Security::Plain),
            _ => return Err(bad_url(name, value, example)),
        };
        url.checked(name, value, "imaps://")
    }

    /// An SMTP server: `smtps://host[:465]`, `smtp://host[:587]` (STARTTLS required), or
    /// `smtp://host[:25]` on this machine (plain).
    pub fn smtp(name: &'static str, value: &str) -> Result<Self, AccountError> {
        let example = "smtps://smtp.example.org or smtp://smtp.example.org:587";
        let (scheme, host, port) = parse(name, value, example)?;
        let url = match scheme.as_str() {
            "smtps" => Self::new(host, port.unwrap_or(465), Security::Tls),
            "smtp" if is_loopback(&host) => Self::new(host, port.unwrap_or(25), Security::Plain),
            "smtp" => Self::new(host, port.unwrap_or(587), Security::StartTls),
            _ => return Err(bad_url(name, value, example)),
        };
        url.checked(name, value, "smtps://")
    }

    fn new(host: String, port: u16, security: Security) -> Self {
        Self {
            host,
            port,
            security,
        }
    }

    fn checked(
        self,
        name: &'static str,
        value: &str,
        tls: &'static str,
    ) -> Result<Self, AccountError> {
        if self.security == Security::Plain && !is_loopback(&self.host) {
            return Err(AccountError::Plaintext {
                name,
                value: value.to_owned(),
                tls,
            });
        }
        Ok(self)
    }
    /// Refuses a plain connection to another machine, however these settings were made.
    fn check(&self, name: &'static str, tls: &'static str) -> Result<(), AccountError> {
        self.clone()
            .checked(name, &format!("{self} without TLS"), tls)
            .map(drop)
    }
}

fn parse(
    name: &'static str,
    value: &str,
    example: &'static str,
) -> Result<(String, String, Option<u16>), AccountError> {
    let url = Url::parse(value.trim()).map_err(|_| bad_url(name, value, example))?;
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => return Err(bad_url(name, value, example)),
    };
    let extra = !url.username().is_empty()
        || url.password().is_some()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some();
    if extra {
        return Err(bad_url(name, value, example));
    }
    Ok((url.scheme().to_owned(), host, url.port()))
}

fn bad_url(name: &'static str, value: &str, example: &'static str) -> AccountError {
    AccountError::BadUrl {
        name,
        value: value.to_owned(),
        example,
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Account {
    /// Checks settings that did not come through [`Account::from_env`] (a stored or sent
    /// account): an address, and no password in plain text to another machine.
    pub fn check(&self) -> Result<(), AccountError> {
        check_address(&self.address)?;
        self.imap.check("imap", "imaps://")?;
        self.smtp.check("smtp", "smtps://")
    }

    /// The account the environment describes: `CHOIR_IMAP_URL`, `CHOIR_SMTP_URL`,
    /// `CHOIR_MAIL_USER`, `CHOIR_MAIL_PASSWORD`, `CHOIR_MAIL_ADDRESS` and, if set,
    /// `CHOIR_CALDAV_URL` (`var` looks one up).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, AccountError> {
        let get = |name: &'static str| {
            var(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(AccountError::Missing { name })
        };
        let address = get("CHOIR_MAIL_ADDRESS")?.trim().to_owned();
        check_address(&address)?;
        Ok(Self {
            imap: ServerUrl::imap("CHOIR_IMAP_URL", &get("CHOIR_IMAP_URL")?)?,
            smtp: ServerUrl::smtp("CHOIR_SMTP_URL", &get("CHOIR_SMTP_URL")?)?,
            user: get("CHOIR_MAIL_USER")?,
            password: get("CHOIR_MAIL_PASSWORD")?,
            caldav: var("CHOIR_CALDAV_URL").filter(|url| !url.trim().is_empty()),
            ca: match var("CHOIR_MAIL_CA_PEM").filter(|pem| !pem.trim().is_empty()) {
                Some(pem) => Some(check_ca(pem)?),
                None => None,
            },
            address,
        })
    }
}

/// `pem` if it holds certificates, and only certificates.
fn check_ca(pem: String) -> Result<String, AccountError> {
    let certificates = crate::tls::certificates(&pem).map_err(AccountError::BadCa)?;
    if certificates.is_empty() {
        return Err(AccountError::BadCa("none found".into()));
    }
    // Each must be one a TLS client can trust.
    crate::tls::config(Some(&pem)).map_err(AccountError::BadCa)?;
    Ok(pem)
}

fn check_address(address: &str) -> Result<(), AccountError> {
    let valid = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && (domain.contains('.') || domain == "localhost")
    });
    if !valid || address.contains(char::is_whitespace) {
        return Err(AccountError::BadAddress(address.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const LOCAL: &[(&str, &str)] = &[
        ("CHOIR_IMAP_URL", "imap://127.0.0.1:1143"),
        ("CHOIR_SMTP_URL", "smtp://127.0.0.1:1025"),
        ("CHOIR_MAIL_USER", "alice"),
        ("CHOIR_MAIL_PASSWORD", "secret"),
        ("CHOIR_MAIL_ADDRESS", "alice@example.test"),
    ];

    #[test]
    fn an_account_on_this_machine_may_be_plain() {
        let account = Account::from_env(env(LOCAL)).unwrap();
        assert_eq!(account.imap.security, Security::Plain);
        assert_eq!(account.smtp.port, 1025);
        assert_eq!(account.caldav, None);
        assert!(
            !format!("{account:?}").contains("secret"),
            "Debug shows no password"
        );
    }

    #[test]
    fn elsewhere_the_password_only_goes_over_tls() {
        assert_eq!(
            ServerUrl::imap("CHOIR_IMAP_URL", "imap://mail.example.org"),
            Err(AccountError::Plaintext {
                name: "CHOIR_IMAP_URL",
                value: "imap://mail.example.org".into(),
                tls: "imaps://"
            })
        );
        let imaps = ServerUrl::imap("CHOIR_IMAP_URL", "imaps://mail.example.org").unwrap();
        assert_eq!((imaps.port, imaps.security), (993, Security::Tls));
        let submission = ServerUrl::smtp("CHOIR_SMTP_URL", "smtp://mail.example.org").unwrap();
        assert_eq!(
            (submission.port, submission.security),
            (587, Security::StartTls)
        );
        // A name that merely starts like a loopback address is another machine.
        assert!(ServerUrl::imap("CHOIR_IMAP_URL", "imap://127.0.0.1.example.org").is_err());
        assert!(ServerUrl::imap("CHOIR_IMAP_URL", "imap://[::1]:1143").is_ok());
        // Settings made some other way (a stored file, the API) are held to the same rule.
        let mut sneaky = Account::from_env(env(LOCAL)).unwrap();
        sneaky.imap.host = "mail.example.org".into();
        assert!(matches!(
            sneaky.check(),
            Err(AccountError::Plaintext { name: "imap", .. })
        ));
        sneaky.imap.security = Security::Tls;
        assert_eq!(sneaky.check(), Ok(()));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let mut missing = LOCAL.to_vec();
        missing.retain(|(k, _)| *k != "CHOIR_MAIL_PASSWORD");
        assert_eq!(
            Account::from_env(env(&missing)).unwrap_err().to_string(),
            "CHOIR_MAIL_PASSWORD is not set"
        );
        for bad in [
            "ftp://x",
            "imap://",
            "imap://u:p@127.0.0.1",
            "not a url",
            "imap://127.0.0.1/INBOX",
        ] {
            let err = ServerUrl::imap("CHOIR_IMAP_URL", bad).unwrap_err();
            assert!(err.to_string().starts_with("CHOIR_IMAP_URL"), "{err}");
        }
        let mut address = LOCAL.to_vec();
        address.retain(|(k, _)| *k != "CHOIR_MAIL_ADDRESS");
        address.push(("CHOIR_MAIL_ADDRESS", "alice"));
        assert_eq!(
            Account::from_env(env(&address)),
            Err(AccountError::BadAddress("alice".into()))
        );
    }
}
