//! Following a folder with IMAP IDLE: each message that comes in is recorded once
//! (`mail.arrived`), for every mail window that shows the folder.

use std::time::Duration;

use choir_mail::Mailbox;
use choir_proto::mail::MAIL_PAGE;
use choir_proto::EventBody;

use super::requests::{account, append};
use super::windows::header;
use super::MailAccounts;
use crate::store::EventStore;

/// How long one IDLE waits before it is renewed (servers drop an IDLE after 30 minutes).
const IDLE_WAIT: Duration = Duration::from_secs(25 * 60);
/// The longest pause before a watch that lost its server tries again.
const MOST_BACKOFF: Duration = Duration::from_secs(60);

/// Watches `folder` of `account` until aborted: records each message that comes in after
/// uid `newest`. A lost connection is made again, waiting longer each time it fails.
pub(super) async fn watch(
    store: EventStore,
    accounts: MailAccounts,
    (account_name, folder): (String, String),
    mut newest: u32,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let watched = async {
            let account = account(&accounts, &account_name)?;
            let mut mailbox = Mailbox::open(&account).await.map_err(|e| e.to_string())?;
            if newest == 0 {
                let top = mailbox
                    .page(&folder, 0, 1)
                    .await
                    .map_err(|e| e.to_string())?;
                newest = top.headers.first().map_or(0, |header| header.id.uid);
            }
            loop {
                let page = mailbox
                    .newer(&folder, newest, MAIL_PAGE as usize)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(top) = page.headers.first() {
                    newest = top.id.uid;
                    append(
                        &store,
                        EventBody::MailArrived {
                            account: account.address.clone(),
                            folder: folder.clone(),
                            total: page.total,
                            headers: page.headers.into_iter().map(header).collect(),
                        },
                    )
                    .await;
                }
                backoff = Duration::from_secs(1);
                let (open, _news) = mailbox
                    .wait_for_news(&folder, IDLE_WAIT)
                    .await
                    .map_err(|e| e.to_string())?;
                mailbox = open;
            }
        };
        let Err::<std::convert::Infallible, String>(reason) = watched.await;
        tracing::warn!(account = %account_name, %folder, %reason, "the mail watch stopped; trying again");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MOST_BACKOFF);
    }
}
