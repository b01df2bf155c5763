//! An account's mailbox over IMAP: folders, a search, a message read whole, a draft put in.
//! Folders are opened read-only (`EXAMINE`) and messages fetched with `BODY.PEEK`: reading
//! here changes nothing on the server.

use std::fmt;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::account::{Account, Security, ServerUrl};
use crate::message::{self, Header, Message, MessageId};
use crate::{unreachable_at as unreachable, within, MailError, MAX_READ_BYTES, TIMEOUT};

/// The header fields a search shows, fetched without the body.
const HEADER_QUERY: &str = "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])";

/// A page of a folder: its messages' headers, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The folder's UIDVALIDITY.
    pub validity: u32,
    /// Messages in the folder (or found by the search).
    pub total: u32,
    pub headers: Vec<Header>,
}

/// A byte stream to a server, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

/// A logged-in IMAP session.
pub struct Mailbox {
    session: Session<Box<dyn Io>>,
    server: String,
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("server", &self.server)
            .finish()
    }
}

impl Mailbox {
    /// Connects to the account's IMAP server and logs in.
    pub async fn open(account: &Account) -> Result<Self, MailError> {
        account.check()?;
        let server = account.imap.to_string();
        let stream = within(&server, connect(&account.imap, account.ca.as_deref())).await?;
        let mut client = Client::new(stream);
        let greeting = within(&server, async {
            client
                .read_response()
                .await
                .map_err(|err| unreachable(&server, err))
        })
        .await?;
        if greeting.is_none() {
            return Err(unreachable(&server, "it closed the connection"));
        }
        let login = within(&server, async {
            Ok(client.login(&account.user, &account.password).await)
        })
        .await?;
        let session = login.map_err(|(err, _)| match err {
            async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason) => {
                MailError::LoginRefused {
                    server: server.clone(),
                    reason: said(&reason),
                }
            }
            other => unreachable(&server, other),
        })?;
        Ok(Self { session, server })
    }

    /// The folders, as the server names them.
    pub async fn folders(&mut self) -> Result<Vec<String>, MailError> {
        let server = self.server.clone();
        let session = &mut self.session;
        within(&server, async {
            let names: Vec<_> = session
                .list(Some(""), Some("*"))
                .await
                .map_err(imap_error)?
                .try_collect()
                .await
                .map_err(imap_error)?;
            let mut folders: Vec<String> = names.iter().map(|n| n.name().to_owned()).collect();
            folders.sort();
            Ok(folders)
        })
        .await
    }

    /// The messages of `folder` whose headers or text contain `query` (all of them when it
    /// is empty), newest first: `limit` of them after the newest `skip` (a page further back
    /// as a list is scrolled).
    pub async fn search(
        &mut self,
        folder: &str,
        query: &str,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<Header>, MailError> {
        Ok(self.found(folder, query, skip, limit).await?.headers)
    }

    /// A page of `folder` (`limit` messages after the newest `skip`), with how many it holds.
    pub async fn page(
        &mut self,
        folder: &str,
        skip: usize,
        limit: usize,
    ) -> Result<Page, MailError> {
        self.found(folder, "", skip, limit).await
    }

    /// A page of what a search of `folder` for `query` finds (everything when it is empty):
    /// `limit` messages after the newest `skip`, with how many it found.
    pub async fn search_page(
        &mut self,
        folder: &str,
        query: &str,
        skip: usize,
        limit: usize,
    ) -> Result<Page, MailError> {
        self.found(folder, query, skip, limit).await
    }

    async fn found(
        &mut self,
        folder: &str,
        query: &str,
        skip: usize,
        limit: usize,
    ) -> Result<Page, MailError> {
        let criteria = criteria(query);
        let server = self.server.clone();
        let validity = self.examine(folder).await?;
        let session = &mut self.session;
        within(&server, async {
            let found = session.uid_search(&criteria).await.map_err(imap_error)?;
            let mut uids: Vec<u32> = found.into_iter().collect();
            let total = u32::try_from(uids.len()).unwrap_or(u32::MAX);
            uids.sort_unstable_by_key(|uid| std::cmp::Reverse(*uid));
            let uids: Vec<u32> = uids.into_iter().skip(skip).take(limit).collect();
            let headers = fetch_headers(session, folder, validity, &uids).await?;
            Ok(Page {
                validity,
                total,
                headers,
            })
        })
        .await
    }

    /// The headers of the newest `limit` messages in `folder` whose uid is above `after`,
    /// newest first, with how many messages it holds: what came in since a watch saw `after`
    /// last.
    pub async fn newer(
        &mut self,
        folder: &str,
        after: u32,
        limit: usize,
    ) -> Result<Page, MailError> {
        let server = self.server.clone();
        let validity = self.examine(folder).await?;
        let session = &mut self.session;
        within(&server, async {
            let all = session.uid_search("ALL").await.map_err(imap_error)?;
            let total = u32::try_from(all.len()).unwrap_or(u32::MAX);
            let mut uids: Vec<u32> = all.into_iter().filter(|uid| *uid > after).collect();
            uids.sort_unstable_by_key(|uid| std::cmp::Reverse(*uid));
            uids.truncate(limit);
            let headers = fetch_headers(session, folder, validity, &uids).await?;
            Ok(Page {
                validity,
                total,
                headers,
            })
        })
        .await
    }

    /// Waits, with IMAP IDLE on `folder`, until the server says something changed there (a
    /// message came, went or changed flags): `true`; or `false` after `wait` with no news.
    pub async fn wait_for_news(
        mut self,
        folder: &str,
        wait: std::time::Duration,
    ) -> Result<(Self, bool), MailError> {
        self.examine(folder).await?;
        let server = self.server.clone();
        let mut idle = self.session.idle();
        within(&server, async { idle.init().await.map_err(imap_error) }).await?;
        let (news, _stop) = idle.wait_with_timeout(wait);
        let news = news.await.map_err(|err| unreachable(&server, err))?;
        let changed = matches!(news, async_imap::extensions::idle::IdleResponse::NewData(_));
        let session = within(&server, async { idle.done().await.map_err(imap_error) }).await?;
        Ok((Self { session, server }, changed))
    }

    /// Message `id`, read whole (up to [`MAX_READ_BYTES`]).
    pub async fn read(&mut self, id: &MessageId) -> Result<Message, MailError> {
        let (raw, size, seen) = self.raw(id).await?;
        message::read(&raw, id.clone(), size, seen)
    }

    /// The attachment named `name` of message `id` (the first, if several are), with its
    /// name as the message gives it.
    pub async fn attachment(
        &mut self,
        id: &MessageId,
        name: &str,
    ) -> Result<(String, Vec<u8>), MailError> {
        let (raw, _, _) = self.raw(id).await?;
        message::attachment(&raw, id, name)
    }

    /// Message `id`'s bytes (up to [`MAX_READ_BYTES`]), its size and whether it was seen.
    async fn raw(&mut self, id: &MessageId) -> Result<(Vec<u8>, u32, bool), MailError> {
        let server = self.server.clone();
        let validity = self.examine(&id.folder).await?;
        if validity != id.validity {
            return Err(MailError::NoMessage(id.to_string()));
        }
        let session = &mut self.session;
        within(&server, async {
            let uid = id.uid.to_string();
            let sized: Vec<_> = session
                .uid_fetch(&uid, "(UID FLAGS RFC822.SIZE)")
                .await
                .map_err(imap_error)?
                .try_collect()
                .await
                .map_err(imap_error)?;
            let first = sized
                .iter()
                .find(|fetch| fetch.uid == Some(id.uid))
                .ok_or_else(|| MailError::NoMessage(id.to_string()))?;
            let (size, seen) = (first.size.unwrap_or(0), seen(first));
            if size > MAX_READ_BYTES {
                return Err(MailError::TooLarge {
                    id: id.to_string(),
                    size,
                    max: MAX_READ_BYTES,
                });
            }
            let whole: Vec<_> = session
                .uid_fetch(&uid, "(UID BODY.PEEK[])")
                .await
                .map_err(imap_error)?
                .try_collect()
                .await
                .map_err(imap_error)?;
            let raw = whole
                .iter()
                .find(|fetch| fetch.uid == Some(id.uid))
                .and_then(|fetch| fetch.body())
                .ok_or_else(|| MailError::NoMessage(id.to_string()))?;
            Ok((raw.to_vec(), size, seen))
        })
        .await
    }

    /// Puts `raw` (a whole message) into `folder`, marked as a draft if `draft`.
    pub async fn append(&mut self, folder: &str, raw: &[u8], draft: bool) -> Result<(), MailError> {
        let server = self.server.clone();
        let session = &mut self.session;
        let appended = within(&server, async {
            Ok(session
                .append(folder, draft.then_some("(\\Draft \\Seen)"), None, raw)
                .await)
        })
        .await?;
        match appended {
            Ok(()) => Ok(()),
            // The server's reason is not kept by the IMAP library: a folder that is not
            // there is told apart by looking.
            Err(err) if !self.folders().await?.iter().any(|name| name == folder) => {
                tracing::debug!(%err, folder, "append refused: no such folder");
                Err(MailError::NoFolder(folder.to_owned()))
            }
            Err(err) => Err(imap_error(err)),
        }
    }

    /// The folder the server marks as the drafts folder (RFC 6154 `\\Drafts`), if one is.
    pub async fn drafts_folder(&mut self) -> Result<Option<String>, MailError> {
        let server = self.server.clone();
        let session = &mut self.session;
        within(&server, async {
            let names: Vec<_> = session
                .list(Some(""), Some("*"))
                .await
                .map_err(imap_error)?
                .try_collect()
                .await
                .map_err(imap_error)?;
            let drafts = |name: &&async_imap::types::Name| {
                name.attributes()
                    .iter()
                    .any(|attribute| matches!(attribute, async_imap::types::NameAttribute::Drafts))
            };
            Ok(names.iter().find(drafts).map(|name| name.name().to_owned()))
        })
        .await
    }

    /// Makes a folder.
    pub async fn create(&mut self, folder: &str) -> Result<(), MailError> {
        let server = self.server.clone();
        let session = &mut self.session;
        within(&server, async {
            session.create(folder).await.map_err(imap_error)
        })
        .await
    }

    /// Logs out (best effort: the connection closes either way).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(TIMEOUT, self.session.logout()).await;
    }

    /// Opens `folder` read-only; its UIDVALIDITY.
    async fn examine(&mut self, folder: &str) -> Result<u32, MailError> {
        let server = self.server.clone();
        let session = &mut self.session;
        let examined = within(&server, async { Ok(session.examine(folder).await) }).await?;
        match examined {
            Ok(mailbox) => Ok(mailbox.uid_validity.unwrap_or(0)),
            // Refused: because there is no such folder, or for the server's own reason.
            Err(async_imap::error::Error::No(reason)) => {
                if self.folders().await?.iter().any(|name| name == folder) {
                    Err(MailError::Imap(said(&reason)))
                } else {
                    Err(MailError::NoFolder(folder.to_owned()))
                }
            }
            Err(other) => Err(imap_error(other)),
        }
    }
}

/// The headers of messages `uids` of `folder` (examined, at `validity`), newest first.
async fn fetch_headers(
    session: &mut Session<Box<dyn Io>>,
    folder: &str,
    validity: u32,
    uids: &[u32],
) -> Result<Vec<Header>, MailError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let fetches: Vec<_> = session
        .uid_fetch(&set, HEADER_QUERY)
        .await
        .map_err(imap_error)?
        .try_collect()
        .await
        .map_err(imap_error)?;
    let mut headers: Vec<Header> = fetches
        .iter()
        .filter_map(|fetch| {
            let uid = fetch.uid?;
            let fields = message::fields(fetch.header().unwrap_or_default())?;
            Some(Header {
                id: MessageId {
                    folder: folder.to_owned(),
                    validity,
                    uid,
                },
                from: fields.from,
                to: fields.to,
                subject: fields.subject,
                date: fields.date,
                message_id: fields.message_id,
                size: fetch.size.unwrap_or(0),
                seen: seen(fetch),
            })
        })
        .collect();
    headers.sort_by_key(|header| std::cmp::Reverse(header.id.uid));
    Ok(headers)
}

/// What the server said, from the IMAP library's account of a `NO` or `BAD` answer (which
/// reads `code: …, info: Some("…")`): the server's words, or the account as it is.
fn said(answer: &str) -> String {
    let words = answer
        .split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.rsplit_once("\")"))
        .map(|(words, _)| words.replace("\\\"", "\""));
    words.unwrap_or_else(|| answer.trim().to_owned())
}

/// The IMAP search criteria for `query`: every word must appear in the headers or the text.
fn criteria(query: &str) -> String {
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.is_empty() {
        return "ALL".to_owned();
    }
    let quoted: Vec<String> = words
        .iter()
        .map(|word| {
            let escaped = word.replace('\\', "\\\\").replace('"', "\\\"");
            format!("TEXT \"{escaped}\"")
        })
        .collect();
    if quoted.iter().any(|word| !word.is_ascii()) {
        return format!("CHARSET UTF-8 {}", quoted.join(" "));
    }
    quoted.join(" ")
}

fn seen(fetch: &async_imap::types::Fetch) -> bool {
    fetch
        .flags()
        .any(|flag| matches!(flag, async_imap::types::Flag::Seen))
}

fn imap_error(err: async_imap::error::Error) -> MailError {
    MailError::Imap(err.to_string())
}

/// A connection to `server`, TLS unless it is plain on this machine. (`STARTTLS` is not
/// offered for IMAP: `imaps://` is what servers elsewhere take.)
async fn connect(server: &ServerUrl, ca: Option<&str>) -> Result<Box<dyn Io>, MailError> {
    let name = server.to_string();
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .map_err(|err| unreachable(&name, err))?;
    match server.security {
        Security::Plain => Ok(Box::new(tcp)),
        Security::Tls | Security::StartTls => {
            let domain = rustls::pki_types::ServerName::try_from(server.host.clone())
                .map_err(|err| unreachable(&name, err))?;
            let tls = crate::tls::connector(ca)
                .map_err(|err| unreachable(&name, format!("TLS: {err}")))?
                .connect(domain, tcp)
                .await
                .map_err(|err| unreachable(&name, format!("TLS: {err}")))?;
            Ok(Box::new(tls))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_own_words_are_kept_from_a_refusal() {
        assert_eq!(
            said(r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(said("  plain words "), "plain words");
    }

    #[test]
    fn a_query_becomes_criteria_that_cannot_break_out_of_their_quotes() {
        assert_eq!(criteria("  "), "ALL");
        assert_eq!(criteria("lunch friday"), "TEXT \"lunch\" TEXT \"friday\"");
        assert_eq!(criteria("a\"b\\ c"), "TEXT \"a\\\"b\\\\\" TEXT \"c\"");
        // A line break is whitespace: it splits words, never ends the command.
        assert_eq!(
            criteria("x\r\nA1 LOGOUT"),
            "TEXT \"x\" TEXT \"A1\" TEXT \"LOGOUT\""
        );
        assert_eq!(criteria("café"), "CHARSET UTF-8 TEXT \"café\"");
    }
}
