//! Mail tools: the agent searches and reads the user's mail, keeps drafts, and sends (always
//! with the user's approval, the message shown as it will go out). Each call logs in to the
//! account's servers and out again; what it read is in its result (and so in the log, cut
//! at the tools' output limit), the credentials never are.

use choir_mail::{Account, Mailbox, MessageId, Outgoing};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{capped_text, Tool, ToolContext, ToolError, ToolOutcome};
use crate::mail::MailAccounts;

/// Messages a search lists when not told.
const DEFAULT_LIMIT: u32 = 20;
/// Messages a search lists at most.
const MAX_LIMIT: u32 = 200;
/// Where drafts go when the server marks no folder as the drafts folder (made if missing).
const DRAFTS: &str = "Drafts";

/// One or more addresses.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

impl Recipients {
    fn list(self) -> Vec<String> {
        match self {
            Recipients::One(text) => text
                .split(',')
                .map(str::trim)
                .filter(|one| !one.is_empty())
                .map(str::to_owned)
                .collect(),
            Recipients::Many(list) => list,
        }
    }
}

fn account(accounts: &MailAccounts, asked: Option<&str>) -> Result<Account, ToolOutcome> {
    accounts
        .get(asked)
        .map_err(|err| ToolOutcome::failed(err.to_string()))
}

/// The mailbox of the account asked for (or the first), logged in.
async fn open(accounts: &MailAccounts, asked: Option<&str>) -> Result<Mailbox, ToolOutcome> {
    let account = account(accounts, asked)?;
    Mailbox::open(&account)
        .await
        .map_err(|err| ToolOutcome::failed(err.to_string()))
}

pub struct MailSearch(pub MailAccounts);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// words that must all appear in a message's headers or text; empty: the newest messages
    query: Option<String>,
    /// the folder (default INBOX)
    folder: Option<String>,
    /// how many to list, newest first (default 20, at most 200)
    limit: Option<u32>,
    /// which page of that many, 0 the newest (1 the ones before them, …)
    page: Option<u32>,
    /// the account's address, when there are several
    account: Option<String>,
}

impl Tool for MailSearch {
    type Args = SearchArgs;
    const NAME: &'static str = "mail_search";
    const DESCRIPTION: &'static str = "Search the user's mail (IMAP): the newest messages of a folder whose headers or text contain every word of the query. Returns one line per message: its id (for mail_read), date, sender, subject, and whether it is unread; and the folders there are.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let mut mailbox = match open(&self.0, args.account.as_deref()).await {
            Ok(mailbox) => mailbox,
            Err(outcome) => return Ok(outcome),
        };
        let folder = args.folder.unwrap_or_else(|| "INBOX".to_owned());
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
        let query = args.query.unwrap_or_default();
        let folders = mailbox.folders().await.unwrap_or_default();
        let skip = args.page.unwrap_or(0) as usize * limit;
        let found = mailbox.search(&folder, &query, skip, limit).await;
        mailbox.close().await;
        let headers = match found {
            Ok(headers) => headers,
            Err(err) => {
                return Ok(ToolOutcome::failed(format!(
                    "{err}\nfolders: {}",
                    folders.join(", ")
                )))
            }
        };
        let mut out = format!(
            "{} in {folder} ({}):\n",
            match headers.len() {
                0 => "no messages".to_owned(),
                1 => "1 message".to_owned(),
                n => format!("{n} messages, newest first"),
            },
            if query.trim().is_empty() {
                "all".to_owned()
            } else {
                format!("matching {:?}", query.trim())
            }
        );
        for header in &headers {
            out.push_str(&format!(
                "{}  {}  {}  {}{}\n",
                header.id,
                if header.date.is_empty() {
                    "-"
                } else {
                    &header.date
                },
                header.from,
                header.subject,
                if header.seen { "" } else { "  [unread]" }
            ));
        }
        out.push_str(&format!("folders: {}", folders.join(", ")));
        Ok(ToolOutcome::ok(capped_text(out.as_bytes(), out.len())))
    }
}

pub struct MailRead(pub MailAccounts);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// the message's id, as mail_search gives it (e.g. INBOX/1712345678/42)
    id: String,
    /// the account's address, when there are several
    account: Option<String>,
}

impl Tool for MailRead {
    type Args = ReadArgs;
    const NAME: &'static str = "mail_read";
    const DESCRIPTION: &'static str = "Read one message of the user's mail: its headers, its text (HTML turned to text) and the list of its attachments. Reading does not mark it as read.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let id: MessageId = match args.id.parse() {
            Ok(id) => id,
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let mut mailbox = match open(&self.0, args.account.as_deref()).await {
            Ok(mailbox) => mailbox,
            Err(outcome) => return Ok(outcome),
        };
        let read = mailbox.read(&id).await;
        mailbox.close().await;
        let message = match read {
            Ok(message) => message,
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let header = &message.header;
        let mut out = format!(
            "Id: {}\nFrom: {}\nTo: {}\n{}Date: {}\nSubject: {}\n{}\n{}\n",
            header.id,
            header.from,
            header.to,
            if message.cc.is_empty() {
                String::new()
            } else {
                format!("Cc: {}\n", message.cc)
            },
            header.date,
            header.subject,
            if header.message_id.is_empty() {
                String::new()
            } else {
                format!(
                    "Message-ID: {} (in_reply_to, to answer it)\n",
                    header.message_id
                )
            },
            message.text.trim_end()
        );
        for invitation in &message.invitations {
            let event = &invitation.event;
            out.push_str(&format!(
                "\nInvitation ({}) from {}: {} {} – {}{} (uid {}){}\n",
                invitation.method,
                invitation.organizer,
                event.title,
                event.start,
                event.end,
                if event.location.is_empty() {
                    String::new()
                } else {
                    format!(" @ {}", event.location)
                },
                event.uid,
                if invitation.method == "REQUEST" {
                    "; calendar_reply answers it"
                } else {
                    ""
                }
            ));
        }
        if !message.attachments.is_empty() {
            out.push_str("\nAttachments:\n");
            for attachment in &message.attachments {
                out.push_str(&format!(
                    "- {} ({}, {} bytes)\n",
                    attachment.name, attachment.content_type, attachment.size
                ));
            }
        }
        Ok(ToolOutcome::ok(capped_text(out.as_bytes(), out.len())))
    }
}

pub struct MailSaveAttachment(pub MailAccounts);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveArgs {
    /// the message's id, as mail_search gives it
    id: String,
    /// the attachment's name, as mail_read lists it
    name: String,
    /// where to put it in the workspace (default: attachments/NAME)
    path: Option<String>,
    /// the account's address, when there are several
    account: Option<String>,
}

impl Tool for MailSaveAttachment {
    type Args = SaveArgs;
    const NAME: &'static str = "mail_save_attachment";
    const DESCRIPTION: &'static str = "Save an attachment of one of the user's messages as a file of the workspace (by default attachments/NAME), replacing a file there.";
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let id: MessageId = match args.id.parse() {
            Ok(id) => id,
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let path = args
            .path
            .unwrap_or_else(|| crate::mail::attachments::default_path(&args.name));
        // A path outside the workspace is the tool's error, as for every file tool.
        ctx.workspace.resolve(&path)?;
        let saved = crate::mail::attachments::save(
            &self.0,
            &ctx.workspace,
            &id,
            &args.name,
            &path,
            args.account.as_deref(),
        )
        .await;
        Ok(match saved {
            Ok(said) => ToolOutcome::ok(said),
            Err(why) => ToolOutcome::failed(why),
        })
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeArgs {
    /// the recipients: an address, several separated by commas, or a list
    to: Recipients,
    subject: String,
    /// the text of the message
    body: String,
    /// more recipients, in copy
    cc: Option<Recipients>,
    /// the Message-ID of the message this answers (mail_read shows it)
    in_reply_to: Option<String>,
    /// the account to send from, when there are several
    account: Option<String>,
}

impl ComposeArgs {
    fn outgoing(self) -> (Outgoing, Option<String>) {
        (
            Outgoing {
                to: self.to.list(),
                cc: self.cc.map(Recipients::list).unwrap_or_default(),
                subject: self.subject,
                body: self.body,
                in_reply_to: self.in_reply_to,
            },
            self.account,
        )
    }
}

/// The message as it will go out, for the approval prompt.
fn shown(account: &Account, outgoing: &Outgoing) -> String {
    let mut text = format!(
        "From: {}\nTo: {}\n",
        account.address,
        outgoing.to.join(", ")
    );
    if !outgoing.cc.is_empty() {
        text.push_str(&format!("Cc: {}\n", outgoing.cc.join(", ")));
    }
    if let Some(id) = &outgoing.in_reply_to {
        text.push_str(&format!("In-Reply-To: {id}\n"));
    }
    text.push_str(&format!(
        "Subject: {}\n\n{}",
        outgoing.subject, outgoing.body
    ));
    text
}

pub struct MailSend(pub MailAccounts);

impl Tool for MailSend {
    type Args = ComposeArgs;
    const NAME: &'static str = "mail_send";
    const DESCRIPTION: &'static str = "Send an e-mail from the user's account (SMTP). The user sees the message and approves it first. For a reply, give in_reply_to and a subject starting with Re:.";
    const SIDE_EFFECTS: bool = true;
    const ALWAYS_ASKS: bool = true;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let (outgoing, asked) = args.outgoing();
        let account = match account(&self.0, asked.as_deref()) {
            Ok(account) => account,
            Err(outcome) => return Ok(outcome),
        };
        Ok(match choir_mail::send(&account, &outgoing).await {
            Ok(()) => ToolOutcome::ok(format!(
                "sent from {} to {}: {}",
                account.address,
                outgoing.to.join(", "),
                outgoing.subject
            )),
            Err(err) => ToolOutcome::failed(format!("not sent: {err}")),
        })
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(preview(&self.0, args, "sent"))
    }
}

/// The message as the approval shows it, or why it will not be `done`.
fn preview(accounts: &MailAccounts, args: ComposeArgs, done: &str) -> String {
    let (outgoing, asked) = args.outgoing();
    match accounts.get(asked.as_deref()) {
        Ok(account) => match outgoing.message(&account.address) {
            Ok(_) => shown(&account, &outgoing),
            Err(err) => format!("this message will not be {done}: {err}"),
        },
        Err(err) => format!("this message will not be {done}: {err}"),
    }
}

pub struct MailDraft(pub MailAccounts);

impl Tool for MailDraft {
    type Args = ComposeArgs;
    const NAME: &'static str = "mail_draft";
    const DESCRIPTION: &'static str = "Keep an e-mail as a draft in the user's Drafts folder, unsent, for the user to look at and send themselves.";
    // It changes the mailbox (a draft, maybe the Drafts folder): as any change, it asks.
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let (outgoing, asked) = args.outgoing();
        let account = match account(&self.0, asked.as_deref()) {
            Ok(account) => account,
            Err(outcome) => return Ok(outcome),
        };
        let raw = match outgoing.raw(&account.address) {
            Ok(raw) => raw,
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let mut mailbox = match Mailbox::open(&account).await {
            Ok(mailbox) => mailbox,
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let folder = match mailbox.drafts_folder().await {
            Ok(marked) => marked.unwrap_or_else(|| DRAFTS.to_owned()),
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let mut kept = mailbox.append(&folder, &raw, true).await;
        if matches!(kept, Err(choir_mail::MailError::NoFolder(_))) {
            kept = match mailbox.create(&folder).await {
                Ok(()) => mailbox.append(&folder, &raw, true).await,
                Err(err) => Err(err),
            };
        }
        mailbox.close().await;
        Ok(match kept {
            Ok(()) => ToolOutcome::ok(format!(
                "kept in {folder} of {}: {}",
                account.address, outgoing.subject
            )),
            Err(err) => ToolOutcome::failed(format!("not kept: {err}")),
        })
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(preview(&self.0, args, "kept"))
    }
}
