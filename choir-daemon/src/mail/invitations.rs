//! Answering an invitation received by mail, the one way the agent's `calendar_reply` and a
//! mail window do it: an accepted or tentative event goes into the calendar first, then the
//! organizer gets the answer by mail.

use choir_mail::{Account, Answer, Calendar, Invitation, Mailbox, MessageId};

use super::MailAccounts;

/// The invitation asking for an answer in message `id` of `account` (the first account when
/// none is named), with the account and who sent the message.
pub async fn find(
    accounts: &MailAccounts,
    id: &MessageId,
    account: Option<&str>,
) -> Result<(Account, Invitation, String), String> {
    let account = accounts.get(account).map_err(|err| err.to_string())?;
    let mut mailbox = Mailbox::open(&account)
        .await
        .map_err(|err| err.to_string())?;
    let read = mailbox.read(id).await;
    mailbox.close().await;
    let message = read.map_err(|err| err.to_string())?;
    let invitation = message
        .invitations
        .into_iter()
        .find(|invitation| invitation.method == "REQUEST")
        .ok_or_else(|| format!("message {id} holds no invitation to answer"))?;
    if invitation.organizer.is_empty() {
        return Err(format!(
            "the invitation in {id} names no organizer to answer"
        ));
    }
    Ok((account, invitation, message.header.from))
}

/// Answers `invitation` from `account`; what was done, or why not.
pub async fn answer(
    account: &Account,
    invitation: &Invitation,
    answer: Answer,
) -> Result<String, String> {
    if answer.keeps() {
        let kept = match Calendar::open(account).await {
            Ok(calendar) => calendar.keep(invitation).await,
            Err(err) => Err(err),
        };
        if let Err(err) = kept {
            return Err(format!(
                "not answered: the event could not go into the calendar: {err}"
            ));
        }
    }
    match choir_mail::answer(account, invitation, answer).await {
        Ok(()) => Ok(format!(
            "answered {} to {} for {}{}",
            answer.partstat(),
            invitation.organizer,
            invitation.event.title,
            if answer.keeps() {
                "; the event is in the calendar"
            } else {
                ""
            }
        )),
        Err(err) if answer.keeps() => Err(format!(
            "the event is in the calendar, but the answer was not sent: {err}"
        )),
        Err(err) => Err(format!("not answered: {err}")),
    }
}
