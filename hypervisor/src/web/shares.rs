//! Shares opened in a browser: `/share/{owner}/{token}` is the owner's desktop, live, as far
//! as the share allows (a sandbox's `choir share` prints the link). The page's socket and API
//! calls go to `/share/{owner}/{token}/ws` and `/share/{owner}/{token}/api/...`, carried to the
//! owner's sandbox with the share's token instead of the sandbox's, and with the signed-in
//! user (if any) as the viewer: the sandbox checks the token, what it allows, and who it is
//! for. The hypervisor adds nothing a share does not already grant.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use choir_proto::Endpoint;
use choir_proto::CLOSE_UNAUTHORIZED;

use super::proxy::{carry, close, pass_on, sandbox};
use super::sessions::Session;
use super::{error, guard, Web};
use crate::users::valid_name;

/// Longest share token accepted (they are `chs_` + 10 + 1 + 64 characters).
const MAX_TOKEN: usize = 100;
/// Sockets open on one owner's shares at once (every viewer together).
const MAX_SHARE_TABS: usize = 64;
/// Share sockets and API requests one client address may make per minute (each may start the
/// owner's sandbox to check its token).
pub(super) const SHARE_REQUESTS_PER_MINUTE: u32 = 120;
/// What every share the sandbox does not know is told, whatever the reason (no such user
/// either): the answer tells nothing apart.
const NO_SUCH_SHARE: &str = "no such share (it was revoked, or never existed)";

/// Whether the path names a share that could exist: a user name and a share token's shape.
fn plausible(owner: &str, token: &str) -> bool {
    valid_name(owner)
        && token.starts_with("chs_")
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Why a share request gets no further.
enum Refusal {
    /// Too many requests from this address.
    Busy,
    /// No such share (or no such user: the same answer).
    Unknown,
    /// The owner's sandbox cannot be reached.
    Unavailable(String),
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Busy => error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many share requests from your address: wait a minute",
            ),
            Refusal::Unknown => error(StatusCode::UNAUTHORIZED, NO_SUCH_SHARE),
            Refusal::Unavailable(reason) => error(StatusCode::SERVICE_UNAVAILABLE, &reason),
        }
    }
}

/// The owner's sandbox, reached with the share's token on behalf of `viewer`; limited per
/// client address, since checking a token may start the sandbox.
async fn share_endpoint(
    web: &Web,
    peer: std::net::IpAddr,
    owner: &str,
    token: &str,
    viewer: Option<&Session>,
) -> Result<Endpoint, Refusal> {
    if web.share_limiter.take(peer).is_err() {
        return Err(Refusal::Busy);
    }
    if !plausible(owner, token) || !matches!(web.users.exists(owner).await, Ok(true)) {
        return Err(Refusal::Unknown);
    }
    let mut endpoint = sandbox(web, owner).await.map_err(Refusal::Unavailable)?;
    endpoint.token = token.to_owned();
    endpoint.viewer = viewer.map(|session| session.user.clone());
    Ok(endpoint)
}

/// `GET /share/{owner}/{token}`: the desktop page, told where its socket and API are.
pub(super) async fn page(Path((owner, token)): Path<(String, String)>) -> Response {
    if !plausible(&owner, &token) {
        return error(StatusCode::NOT_FOUND, "no such share");
    }
    let base = format!("/share/{owner}/{token}");
    let mut page = choir_web_assets::page_with_meta(
        "/",
        &[
            ("choir-socket", &format!("{base}/ws")),
            ("choir-api", &base),
        ],
    );
    // The token is in the address: it must not leave with a link followed from the page.
    page.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    page
}

/// `GET /share/{owner}/{token}/ws`: from a page of our origin only.
pub(super) async fn websocket(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): super::Peer,
    Path((owner, token)): Path<(String, String)>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !guard::same_origin(&headers, &web.origin) {
        return error(
            StatusCode::FORBIDDEN,
            "WebSocket refused: it must be opened by a page of this site",
        );
    }
    let ended = web.revocations.ended_sessions();
    let viewer = web.sessions.from_headers(&headers).await.ok().flatten();
    let Some(tab) = web.share_tabs.take(&owner) else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("{MAX_SHARE_TABS} share tabs are open on this desktop, the most allowed"),
        );
    };
    let endpoint = match share_endpoint(&web, peer.ip(), &owner, &token, viewer.as_ref()).await {
        Ok(endpoint) => Some(endpoint),
        // Told as the sandbox tells a refused token: on the socket.
        Err(Refusal::Unknown) => None,
        Err(refusal) => return refusal.into_response(),
    };
    upgrade
        .max_message_size(choir_proto::MAX_FRAME_BYTES)
        .max_frame_size(choir_proto::MAX_FRAME_BYTES)
        .on_upgrade(move |mut socket| async move {
            let _tab = tab;
            match endpoint {
                Some(endpoint) => {
                    let budget = web.budgets.of(&owner);
                    carry(web, viewer, endpoint, budget, ended, socket).await
                }
                None => close(&mut socket, CLOSE_UNAUTHORIZED, NO_SUCH_SHARE).await,
            }
        })
}

/// `/share/{owner}/{token}/api/...`: the same request to the owner's sandbox, with the share's
/// token (the sandbox refuses what the share does not allow).
pub(super) async fn api(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): super::Peer,
    Path((owner, token, _rest)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let viewer = web
        .sessions
        .from_headers(&parts.headers)
        .await
        .ok()
        .flatten();
    let endpoint = match share_endpoint(&web, peer.ip(), &owner, &token, viewer.as_ref()).await {
        Ok(endpoint) => endpoint,
        Err(refusal) => return refusal.into_response(),
    };
    let path = super::proxy::without_token(&parts.uri);
    let prefix = format!("/share/{owner}/{token}");
    let Some(path) = path
        .strip_prefix(&prefix)
        .filter(|path| path.starts_with("/api/"))
    else {
        return error(StatusCode::NOT_FOUND, "no such route");
    };
    let path = path.to_owned();
    let who = format!("share:{owner}");
    pass_on(
        &web,
        &who,
        endpoint,
        parts.method,
        &path,
        &parts.headers,
        body,
    )
    .await
}

/// Share sockets per owner, for [`Web`].
pub(super) fn tab_counts() -> crate::ssh::ChannelCounts {
    crate::ssh::ChannelCounts::new(MAX_SHARE_TABS)
}

#[cfg(test)]
mod tests {
    use super::plausible;

    #[test]
    fn only_a_user_name_and_a_share_token_are_plausible() {
        let token = format!("chs_0123456789_{}", "a".repeat(64));
        assert!(plausible("bob", &token));
        for (owner, token) in [
            ("../etc", token.as_str()),
            ("bob", "not-a-share"),
            ("bob", "chs_../../x"),
            ("bob", "chs_a b"),
            ("Bob", token.as_str()),
        ] {
            assert!(!plausible(owner, token), "{owner} {token}");
        }
        assert!(!plausible("bob", &format!("chs_{}", "a".repeat(200))));
    }
}
