//! Calendar tools: the agent lists the user's events in a range and adds one (with the
//! user's approval, as any change). Each call reaches the account's CalDAV server afresh.

use choir_mail::Calendar;
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
