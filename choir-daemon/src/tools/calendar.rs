//! Calendar tools: the agent lists the user's events in a range and adds one (with the
//! user's approval, as any change). Each call reaches the account's CalDAV server afresh.

use choir_mail::{Answer, Calendar, Invitation, MessageId};
use chrono::{DateTime, Duration as Span, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{capped_text, Tool, ToolContext, ToolError, ToolOutcome};
use crate::mail::MailAccounts;

/// The range listed when none is given: from now, this many days.
const DEFAULT_DAYS: i64 = 7;
/// The longest range listed.
const MAX_DAYS: i64 = 366;

fn time(name: &str, text: &str) -> Result<DateTime<Utc>, ToolOutcome> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|err| {
            ToolOutcome::failed(format!(
                "{name}: `{text}` is not an RFC 3339 time like 2026-12-07T09:00:00+01:00 ({err})"
            ))
        })
}

async fn open(accounts: &MailAccounts, asked: Option<&str>) -> Result<Calendar, ToolOutcome> {
    let account = accounts
        .get(asked)
        .map_err(|err| ToolOutcome::failed(err.to_string()))?;
    Calendar::open(&account)
        .await
        .map_err(|err| ToolOutcome::failed(err.to_string()))
}

pub struct CalendarList(pub MailAccounts);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// start of the range, RFC 3339 (default: now)
    from: Option<String>,
    /// end of the range, RFC 3339 (default: a week after the start; at most a year)
    to: Option<String>,
    /// the account's address, when there are several
    account: Option<String>,
}

impl Tool for CalendarList {
    type Args = ListArgs;
    const NAME: &'static str = "calendar_list";
    const DESCRIPTION: &'static str = "List the user's calendar events (CalDAV) that overlap a range, by start time: title, start and end (UTC, or a date for all-day events), place, uid.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let from = match args.from.as_deref().map(|text| time("from", text)) {
            Some(Err(outcome)) => return Ok(outcome),
            Some(Ok(at)) => at,
            None => Utc::now(),
        };
        let to = match args.to.as_deref().map(|text| time("to", text)) {
            Some(Err(outcome)) => return Ok(outcome),
            Some(Ok(at)) => at,
            None => from + Span::days(DEFAULT_DAYS),
        };
        if to <= from || to - from > Span::days(MAX_DAYS) {
            return Ok(ToolOutcome::failed(format!(
                "the range must end after it starts and span at most {MAX_DAYS} days"
            )));
        }
        let calendar = match open(&self.0, args.account.as_deref()).await {
            Ok(calendar) => calendar,
            Err(outcome) => return Ok(outcome),
        };
        let events = match calendar.events(from, to).await {
            Ok(events) => events,
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        };
        let mut out = format!(
            "{} from {} to {}:\n",
            match events.len() {
                0 => "no events".to_owned(),
                1 => "1 event".to_owned(),
                n => format!("{n} events"),
            },
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        for event in &events {
            out.push_str(&format!(
                "{} – {}  {}{}  (uid {})\n",
                event.start,
                event.end,
                event.title,
                if event.location.is_empty() {
                    String::new()
                } else {
                    format!(" @ {}", event.location)
                },
                event.uid
            ));
        }
        Ok(ToolOutcome::ok(capped_text(out.as_bytes(), out.len())))
    }
}

pub struct CalendarAdd(pub MailAccounts);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    title: String,
    /// RFC 3339, e.g. 2026-12-07T09:00:00+01:00
    start: String,
    /// RFC 3339, after the start
    end: String,
    /// the account's address, when there are several
    account: Option<String>,
}

impl Tool for CalendarAdd {
    type Args = AddArgs;
    const NAME: &'static str = "calendar_add";
    const DESCRIPTION: &'static str = "Add an event to the user's calendar (CalDAV): a title, a start and an end in RFC 3339. The user approves it first.";
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let (start, end) = match (time("start", &args.start), time("end", &args.end)) {
            (Ok(start), Ok(end)) => (start, end),
            (Err(outcome), _) | (_, Err(outcome)) => return Ok(outcome),
        };
        if args.title.trim().is_empty() {
            return Ok(ToolOutcome::failed("an event needs a title"));
        }
        let calendar = match open(&self.0, args.account.as_deref()).await {
            Ok(calendar) => calendar,
            Err(outcome) => return Ok(outcome),
        };
        Ok(match calendar.add(args.title.trim(), start, end).await {
            Ok(event) => ToolOutcome::ok(format!(
                "added {} – {}  {}  (uid {})",
                event.start, event.end, event.title, event.uid
            )),
            Err(err) => ToolOutcome::failed(format!("not added: {err}")),
        })
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(match (time("start", &args.start), time("end", &args.end)) {
            (Ok(start), Ok(end)) => format!(
                "{}\n{} – {} (UTC)",
                args.title.trim(),
                start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            (Err(outcome), _) | (_, Err(outcome)) => {
                format!("this event will not be added: {}", outcome.output)
            }
        })
    }
}

pub struct CalendarReply(pub MailAccounts);

/// How to answer.
#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Accept,
    Tentative,
    Decline,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        match reply {
            Reply::Accept => Answer::Accept,
            Reply::Tentative => Answer::Tentative,
            Reply::Decline => Answer::Decline,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyArgs {
    /// the id of the message holding the invitation, as mail_search gives it
    id: String,
    answer: Reply,
    /// the account's address, when there are several
    account: Option<String>,
}

/// The invitation asking for an answer in message `id`, with the account it came to and
/// who sent the message.
async fn invitation(
    accounts: &MailAccounts,
    args: &ReplyArgs,
) -> Result<(choir_mail::Account, Invitation, String), String> {
    let id: MessageId = args
        .id
        .parse()
        .map_err(|err: choir_mail::MailError| err.to_string())?;
    crate::mail::invitations::find(accounts, &id, args.account.as_deref()).await
}

impl Tool for CalendarReply {
    type Args = ReplyArgs;
    const NAME: &'static str = "calendar_reply";
    const DESCRIPTION: &'static str = "Answer an invitation received by mail (mail_read shows them): accept, tentative or decline. The organizer gets the answer by mail; an accepted or tentative event goes into the user's calendar. The user approves it first.";
    const SIDE_EFFECTS: bool = true;
    const ALWAYS_ASKS: bool = true;

    async fn run(&self, _ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let (account, invitation, _) = match invitation(&self.0, &args).await {
            Ok(found) => found,
            Err(reason) => return Ok(ToolOutcome::failed(reason)),
        };
        let answer = Answer::from(args.answer);
        Ok(
            match crate::mail::invitations::answer(&account, &invitation, answer).await {
                Ok(done) => ToolOutcome::ok(done),
                Err(why) => ToolOutcome::failed(why),
            },
        )
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        let answer = Answer::from(args.answer);
        Some(match invitation(&self.0, &args).await {
            Ok((account, invitation, sender)) => format!(
                "From: {}\nTo: {}\n{} {} – {}: {}{}{}",
                account.address,
                invitation.organizer,
                invitation.event.title,
                invitation.event.start,
                invitation.event.end,
                answer.partstat(),
                if answer.keeps() {
                    "\n(the event goes into the calendar)"
                } else {
                    ""
                },
                // The organizer is whoever the invitation names: say when that is not who
                // sent it.
                if sender
                    .to_ascii_lowercase()
                    .contains(&invitation.organizer.to_ascii_lowercase())
                {
                    String::new()
                } else {
                    format!(
                        "\n⚠ the answer goes to {}, not to who sent the invitation ({sender})",
                        invitation.organizer
                    )
                }
            ),
            Err(reason) => format!("this answer will not be sent: {reason}"),
        })
    }
}
