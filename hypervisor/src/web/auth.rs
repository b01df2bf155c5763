//! The passkey endpoints: check an invite, register a passkey (by invite, or from a session),
//! sign in, list and remove one's passkeys, sign out. Each `start` answers the browser's
//! WebAuthn options and a ceremony id; the state stays here until its `finish`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::ceremonies::Ceremony;
use super::sessions::Session;
use super::{error, InviteError, Peer, Web};
use crate::users::{passkey_id, UserError};

/// Longest passkey label kept.
const MAX_LABEL: usize = 64;
/// Passkeys one user may have.
const MAX_PASSKEYS: usize = 32;
/// Adding a passkey from a session needs a sign-in this recent: a borrowed or stolen cookie
/// must not be able to plant a passkey of its own.
const FRESH_SIGN_IN_MS: i64 = 10 * 60 * 1000;

/// A refusal: an answer to send instead.
pub(super) struct Refusal(Box<Response>);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn refuse(status: StatusCode, message: &str) -> Refusal {
    Refusal(Box::new(error(status, message)))
}

impl From<sqlx::Error> for Refusal {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(%err, "the users database failed");
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server's database failed",
        )
    }
}

impl From<UserError> for Refusal {
    fn from(err: UserError) -> Self {
        match err {
            UserError::Database(err) => err.into(),
            UserError::NoSuchUser(_) => refuse(StatusCode::GONE, "this user no longer exists"),
            UserError::PasskeyTaken => refuse(
                StatusCode::CONFLICT,
                "this passkey is already registered here (for you or someone else)",
            ),
            other => refuse(StatusCode::BAD_REQUEST, &other.to_string()),
        }
    }
}

impl From<InviteError> for Refusal {
    fn from(err: InviteError) -> Self {
        match err {
            InviteError::Database(err) => err.into(),
            InviteError::Unknown => refuse(StatusCode::NOT_FOUND, &err.to_string()),
            InviteError::Expired | InviteError::Used => refuse(StatusCode::GONE, &err.to_string()),
        }
    }
}

type Answer = Result<Response, Refusal>;

/// The request's JSON body (`application/json` only: a form cannot post here).
fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, Refusal> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !json {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body).map_err(|err| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("not a valid request: {err}"),
        )
    })
}

impl Web {
    /// One sign-in or registration attempt from `peer`, unless it made too many.
    fn attempt(&self, peer: &Peer) -> Result<(), Refusal> {
        self.limiter.take(peer.0.ip()).map_err(|wait| {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "too many attempts from your address: try again in {} s",
                    wait.as_secs().max(1)
                ),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
            Refusal(Box::new(response))
        })
    }

    /// The request's live session, or a 401.
    pub(super) async fn signed_in(&self, headers: &HeaderMap) -> Result<Session, Refusal> {
        self.sessions.from_headers(headers).await?.ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "you are not signed in (or your session ended)",
            )
        })
    }

    /// A new session for `user` (any session the browser had ends: a new id at each
    /// sign-in), answered with its cookie.
    async fn open_session(
        &self,
        headers: &HeaderMap,
        user: &str,
        passkey: &str,
        next: &str,
    ) -> Answer {
        self.sessions.end_presented(headers).await?;
        let id = self.sessions.create(user, passkey).await?;
        tracing::info!(user, "signed in on the web");
        let mut response = Json(json!({ "ok": true, "user": user, "next": next })).into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, self.sessions.set_cookie(&id));
        Ok(response)
    }

    fn begin(&self, ceremony: Ceremony, options: impl serde::Serialize) -> Answer {
        let id = self.ceremonies.begin(ceremony).ok_or_else(|| {
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many sign-ins in progress: try again soon",
            )
        })?;
        Ok(Json(json!({ "ceremony": id, "options": options })).into_response())
    }
}

#[derive(Deserialize)]
pub(super) struct InviteBody {
    invite: String,
}

/// `POST /auth/invite {invite}` → `{user}`: whether an invite can still be used.
pub(super) async fn check_invite(
    State(web): State<Arc<Web>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    web.attempt(&peer)?;
    let InviteBody { invite } = parse(&headers, &body)?;
    let user = web.invites.check(&invite).await?;
    Ok(Json(json!({ "user": user })).into_response())
}

#[derive(Deserialize)]
pub(super) struct RegistrationBody {
    /// The invite's secret; without one, the request's session says who registers.
    invite: Option<String>,
    label: Option<String>,
}

/// `POST /auth/register/start {invite?, label?}` → `{ceremony, options}`.
pub(super) async fn start_registration(
    State(web): State<Arc<Web>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    web.attempt(&peer)?;
    let RegistrationBody { invite, label } = parse(&headers, &body)?;
    let user = match &invite {
        Some(invite) => web.invites.check(invite).await?,
        None => {
            let session = web.signed_in(&headers).await?;
            if super::secret::now_ms().saturating_sub(session.created) > FRESH_SIGN_IN_MS {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    "to add a passkey, sign in again first (it needs a sign-in of the last 10 minutes)",
                ));
            }
            session.user
        }
    };
    let handle = web
        .users
        .handle(&user)
        .await?
        .ok_or_else(|| refuse(StatusCode::GONE, "this user no longer exists"))?;
    let existing = web.users.passkeys(&user).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(refuse(
            StatusCode::CONFLICT,
            &format!("{user} has {MAX_PASSKEYS} passkeys, the most allowed: remove one first"),
        ));
    }
    let label = clean_label(label.as_deref(), existing.len() + 1);
    let exclude = existing.iter().map(|key| key.cred_id().clone()).collect();
    let (options, state) = web
        .webauthn
        .start_passkey_registration(handle, &user, &user, Some(exclude))
        .map_err(|err| refuse(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()))?;
    web.begin(
        Ceremony::Register {
            user,
            invite,
            label,
            state: Box::new(state),
        },
        options,
    )
}

#[derive(Deserialize)]
pub(super) struct RegistrationFinish {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /auth/register/finish {ceremony, credential}` → `{ok, next}` (and, by invite, a
/// session).
pub(super) async fn finish_registration(
    State(web): State<Arc<Web>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    web.attempt(&peer)?;
    let RegistrationFinish {
        ceremony,
        credential,
    } = parse(&headers, &body)?;
    let Some(Ceremony::Register {
        user,
        invite,
        label,
        state,
    }) = web.ceremonies.take(&ceremony)
    else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "this registration expired or was already finished: start again",
        ));
    };
    match &invite {
        Some(invite) => {
            web.invites.check(invite).await?;
        }
        None => {
            if web.signed_in(&headers).await?.user != user {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    "this registration is not yours",
                ));
            }
        }
    }
    let passkey = web
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|err| {
            refuse(
                StatusCode::BAD_REQUEST,
                &format!("the passkey could not be registered ({err})"),
            )
        })?;
    let id = web.users.add_passkey(&user, &label, &passkey).await?;
    tracing::info!(user, passkey = %id, "passkey registered");
    match invite {
        Some(invite) => {
            if let Err(err) = web.invites.consume(&invite).await {
                // Someone else used it in the meantime: this passkey does not count.
                web.users.remove_passkey(&user, &id).await?;
                return Err(err.into());
            }
            web.open_session(&headers, &user, &id, "/").await
        }
        None => Ok(Json(json!({ "ok": true, "next": "/account" })).into_response()),
    }
}

#[derive(Deserialize)]
pub(super) struct SignInBody {
    user: String,
}

/// `POST /auth/signin/start {user}` → `{ceremony, options}`, alike for every name: one
/// without passkeys here gets made-up credential ids (`decoy.rs`).
pub(super) async fn start_sign_in(
    State(web): State<Arc<Web>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    web.attempt(&peer)?;
    let SignInBody { user } = parse(&headers, &body)?;
    let user = user.trim().to_owned();
    let passkeys = if crate::users::valid_name(&user) {
        web.users.passkeys(&user).await?
    } else {
        Vec::new()
    };
    if passkeys.is_empty() {
        let options = web.decoys.options(&user);
        return web.begin(Ceremony::SignIn { user, state: None }, options);
    }
    let (options, state) = web
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|err| refuse(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()))?;
    web.begin(
        Ceremony::SignIn {
            user,
            state: Some(Box::new(state)),
        },
        super::decoy::plain(options),
    )
}

#[derive(Deserialize)]
pub(super) struct SignInFinish {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// `POST /auth/signin/finish {ceremony, credential}` → `{ok, next}` and a session cookie.
pub(super) async fn finish_sign_in(
    State(web): State<Arc<Web>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    web.attempt(&peer)?;
    let SignInFinish {
        ceremony,
        credential,
    } = parse(&headers, &body)?;
    let Some(Ceremony::SignIn { user, state }) = web.ceremonies.take(&ceremony) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "this sign-in expired or was already finished: start again",
        ));
    };
    let unknown = || {
        refuse(
            StatusCode::UNAUTHORIZED,
            &format!("this passkey is not registered for {user} here"),
        )
    };
    let Some(state) = state else {
        tracing::info!(user, "a sign-in for a name without passkeys");
        return Err(unknown());
    };
    let result = web
        .webauthn
        .finish_passkey_authentication(&credential, &state)
        .map_err(|err| {
            tracing::info!(%err, user, "a passkey sign-in failed");
            unknown()
        })?;
    // Read again: the passkey may have been removed since the start.
    let mut passkeys = web.users.passkeys(&user).await?;
    let passkey = passkeys
        .iter_mut()
        .find(|key| key.cred_id() == result.cred_id())
        .ok_or_else(unknown)?;
    // The counter is checked again against the passkey as stored now (the ceremony's copy
    // may be minutes old): a cloned authenticator shows as a counter that went back.
    let stored = stored_counter(passkey);
    if (result.counter() > 0 || stored > 0) && result.counter() <= stored {
        tracing::warn!(
            user,
            stored,
            presented = result.counter(),
            "a passkey's counter went back: refused as possibly cloned"
        );
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "this passkey's signature counter went back: it may have been copied. Sign in with another passkey",
        ));
    }
    passkey.update_credential(&result);
    web.users.passkey_used(&user, passkey).await?;
    let id = passkey_id(passkey.cred_id());
    web.open_session(&headers, &user, &id, "/").await
}

/// `GET /auth/passkeys` → `{user, passkeys: [{id, label, created, last_used, current}]}`.
pub(super) async fn list_passkeys(State(web): State<Arc<Web>>, headers: HeaderMap) -> Answer {
    let session = web.signed_in(&headers).await?;
    let passkeys: Vec<serde_json::Value> = web
        .users
        .passkey_entries(&session.user)
        .await?
        .into_iter()
        .map(|entry| {
            let current = entry.id == session.passkey;
            let mut value = serde_json::to_value(entry).unwrap_or_default();
            value["current"] = current.into();
            value
        })
        .collect();
    Ok(Json(json!({ "user": session.user, "passkeys": passkeys })).into_response())
}

/// `GET /auth/usage` → the signed-in user's use of the model gateway today and its limits
/// (`{"gateway": false}` when this host has none).
pub(super) async fn usage(State(web): State<Arc<Web>>, headers: HeaderMap) -> Answer {
    let session = web.signed_in(&headers).await?;
    let Some(gateway) = &web.gateway else {
        return Ok(Json(json!({ "gateway": false })).into_response());
    };
    match gateway.report(&session.user).await {
        Ok(report) => {
            let mut value = serde_json::to_value(report).unwrap_or_default();
            value["gateway"] = true.into();
            Ok(Json(value).into_response())
        }
        Err(err) => {
            tracing::error!(%err, "cannot read model usage");
            Ok(super::error(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the usage",
            ))
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveBody {
    id: String,
}

/// `POST /auth/passkeys/remove {id}` → `{ok, signed_out}`: the passkey goes, and with it
/// every session signed in with it (this one too, if so).
pub(super) async fn remove_passkey(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let session = web.signed_in(&headers).await?;
    let RemoveBody { id } = parse(&headers, &body)?;
    let id = web.users.remove_passkey(&session.user, &id).await?;
    web.revocations.sessions_ended(&session.user);
    tracing::info!(user = session.user, passkey = %id, "passkey removed on the web");
    let signed_out = id == session.passkey;
    let mut response = Json(json!({ "ok": true, "signed_out": signed_out })).into_response();
    if signed_out {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, web.sessions.clear_cookie());
    }
    Ok(response)
}

/// `POST /auth/signout` → `{ok, next}`: the session ends and its tabs close.
pub(super) async fn sign_out(State(web): State<Arc<Web>>, headers: HeaderMap) -> Answer {
    if let Some(session) = web.sessions.from_headers(&headers).await? {
        web.sessions.end(&session.key).await?;
        web.revocations.sessions_ended(&session.user);
        tracing::info!(user = session.user, "signed out on the web");
    }
    let mut response = Json(json!({ "ok": true, "next": "/signin" })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, web.sessions.clear_cookie());
    Ok(response)
}

/// The signature counter stored with a passkey (0: it keeps none).
fn stored_counter(passkey: &webauthn_rs::prelude::Passkey) -> u32 {
    fn find(value: &serde_json::Value) -> Option<u64> {
        match value {
            serde_json::Value::Object(map) => map
                .get("counter")
                .and_then(serde_json::Value::as_u64)
                .or_else(|| map.values().find_map(find)),
            _ => None,
        }
    }
    serde_json::to_value(passkey)
        .ok()
        .as_ref()
        .and_then(find)
        .and_then(|counter| u32::try_from(counter).ok())
        .unwrap_or(0)
}

/// Characters that reorder or hide text (bidi controls, zero-width characters): a label with
/// them could pass for another in `user list` or on the account page.
fn deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A passkey's label as given (printable, trimmed, not too long), or `passkey N`.
fn clean_label(given: Option<&str>, n: usize) -> String {
    let label: String = given
        .unwrap_or_default()
        .chars()
        .filter(|c| !deceptive(*c))
        .take(MAX_LABEL)
        .collect();
    match label.trim() {
        "" => format!("passkey {n}"),
        label => label.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_printable_short_and_never_empty() {
        assert_eq!(clean_label(Some("  laptop "), 1), "laptop");
        assert_eq!(clean_label(Some("a\u{1b}[31mb"), 1), "a[31mb");
        assert_eq!(clean_label(Some("lap\u{202e}pot\u{200b}"), 1), "lappot");
        assert_eq!(clean_label(Some(" \n "), 3), "passkey 3");
        assert_eq!(clean_label(None, 2), "passkey 2");
        assert_eq!(clean_label(Some(&"x".repeat(500)), 1).len(), MAX_LABEL);
    }
}
