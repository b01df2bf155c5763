//! Saving a message's attachment as a file of the workspace, the one way the agent's
//! `mail_save_attachment` and a mail window do it: where it goes is checked before anything
//! is fetched, and again just before writing.

use choir_mail::MessageId;

use super::MailAccounts;
use crate::tools::Workspace;

/// Where an attachment named `name` goes by default: `attachments/NAME`, the name made safe
/// (no directories, no leading dots, no control characters).
pub fn default_path(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    format!(
        "attachments/{}",
        if name.trim().is_empty() {
            "attachment"
        } else {
            name
        }
    )
}

/// Saves attachment `name` of message `id` (of `account`, the first when none is named) to
/// `path` in the workspace; what was saved, or why not.
pub async fn save(
    accounts: &MailAccounts,
    workspace: &Workspace,
    id: &MessageId,
    name: &str,
    path: &str,
    account: Option<&str>,
) -> Result<String, String> {
    workspace.resolve(path).map_err(|err| err.to_string())?;
    let account = accounts.get(account).map_err(|err| err.to_string())?;
    let mut mailbox = choir_mail::Mailbox::open(&account)
        .await
        .map_err(|err| err.to_string())?;
    let fetched = mailbox.attachment(id, name).await;
    mailbox.close().await;
    let (name, bytes) = fetched.map_err(|err| err.to_string())?;
    let size = bytes.len();
    let (workspace, target) = (workspace.clone(), path.to_owned());
    tokio::task::spawn_blocking(move || {
        let path = workspace.resolve(&target).map_err(|err| err.to_string())?;
        crate::tools::files::write_atomic(&path, &bytes)
            .map_err(|err| format!("cannot write {target}: {err}"))
    })
    .await
    .map_err(|err| err.to_string())??;
    Ok(format!("saved {name} ({size} bytes) of {id} to {path}"))
}
