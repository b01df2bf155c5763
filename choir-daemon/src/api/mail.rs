//! The owner's mail accounts: `GET /api/mail/accounts` lists them (without passwords),
//! `POST` checks one against its servers and keeps it (in place of one with the same
//! address), `DELETE …/{address}` forgets one. A share's holder gets 403 (see `auth.rs`).
//!
//! An account is posted as the settings `choir account add --from-env` reads, by name:
//! `{"CHOIR_IMAP_URL": "imaps://…", "CHOIR_SMTP_URL": …, "CHOIR_MAIL_USER": …,
//! "CHOIR_MAIL_PASSWORD": …, "CHOIR_MAIL_ADDRESS": …, "CHOIR_CALDAV_URL": …}`, so an error
//! names the setting that is wrong.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use choir_mail::{Account, MailError};
use choir_proto::{Command, ErrorCode};
use serde_json::{json, Value};

use super::auth::Access;
use super::error::ApiError;
use super::AppState;
use crate::mail::AccountsError;

pub(super) async fn list(State(state): State<AppState>) -> Json<Value> {
    let accounts: Vec<Value> = state
        .mail
        .all()
        .iter()
        .map(|account| {
            json!({
                "address": account.address,
                "user": account.user,
                "imap": account.imap,
                "smtp": account.smtp,
                "caldav": account.caldav,
            })
        })
        .collect();
    Json(json!({ "accounts": accounts }))
}

pub(super) async fn add(
    State(state): State<AppState>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let settings: HashMap<String, String> = serde_json::from_str(&body).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidArguments,
            format!("not an account's settings (an object of CHOIR_… names and strings): {err}"),
        )
    })?;
    let account = account_of(|name| settings.get(name).cloned())?;
    let address = account.address.clone();
    state.mail.add(account).await.map_err(refused)?;
    tracing::info!(%address, "mail account kept");
    Ok(Json(json!({ "address": address })))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Path(address): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.mail.remove(&address).map_err(refused)? {
        Ok(Json(json!({ "removed": address })))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no mail account for {address}"),
        ))
    }
}

/// Runs a client's `command`: an account from a mail window's form is checked against its
/// servers and kept here, never recorded (its password must not reach the log), and the window
/// then shows its inbox; every other command goes to the world as it is. Only the owner may add
/// an account.
pub(super) async fn command(
    state: &AppState,
    access: &Access,
    command: Command,
    actor: String,
) -> Result<Vec<u64>, ApiError> {
    let owners_only = matches!(
        command,
        Command::AnswerAppCapability { .. } | Command::RemoveApp { .. }
    );
    if owners_only && access.grant().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized,
            "only the sandbox's owner answers for or removes apps",
        ));
    }
    let Command::AddMailAccount {
        window_id,
        settings,
    } = command
    else {
        return Ok(state
            .world
            .execute(command, actor, Some(crate::correlation()))
            .await?);
    };
    if access.grant().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized,
            "only the sandbox's owner adds mail accounts",
        ));
    }
    // The window must be a mail window, as for any command.
    let check = Command::AddMailAccount {
        window_id,
        settings: Default::default(),
    };
    state
        .world
        .execute(check, actor.clone(), Some(crate::correlation()))
        .await?;
    let account = account_of(|name| settings.0.get(name).cloned())?;
    let address = account.address.clone();
    state.mail.add(account).await.map_err(refused)?;
    tracing::info!(%address, "mail account kept (from a mail window)");
    let show = Command::OpenMailFolder {
        window_id,
        account: Some(address),
        folder: "INBOX".into(),
        offset: 0,
        query: Default::default(),
    };
    // The window may have closed meanwhile: the account is kept all the same.
    Ok(state
        .world
        .execute(show, actor, Some(crate::correlation()))
        .await
        .unwrap_or_default())
}

/// The account the settings name, or which setting is missing or wrong.
fn account_of(setting: impl Fn(&str) -> Option<String>) -> Result<Account, ApiError> {
    Account::from_env(setting).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidArguments,
            err.to_string(),
        )
    })
}

fn refused(err: AccountsError) -> ApiError {
    let (status, code) = match &err {
        AccountsError::Mail(MailError::LoginRefused { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArguments,
        ),
        AccountsError::Mail(MailError::Account(_)) => {
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidArguments)
        }
        AccountsError::Mail(_) => (StatusCode::BAD_GATEWAY, ErrorCode::Internal),
        AccountsError::None | AccountsError::Unknown(_) => {
            (StatusCode::NOT_FOUND, ErrorCode::NotFound)
        }
        AccountsError::Read { .. } | AccountsError::Write { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
        }
    };
    ApiError::new(status, code, err.to_string())
}
