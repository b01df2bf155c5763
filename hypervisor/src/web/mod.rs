//! The web face of the hypervisor: passkey sign-in by invite (`auth.rs`), server-side
//! sessions (`sessions.rs`), and each signed-in browser's `/ws` and `/api/*` carried to its
//! user's sandbox with the sandbox's token added (`proxy.rs`): the browser never sees a token.
//! A share link (`shares.rs`) opens another user's desktop as far as its share allows.
//! Pages come from the embedded web mirror (`pages.rs`). Plain HTTP or TLS (`tls.rs`).
//!
//! Cross-site requests: everything that changes state, and every WebSocket upgrade, must come
//! from a page of the configured origin ([`guard::same_origin`]); the cookie is `HttpOnly`
//! and `SameSite=Lax` besides, and `Secure` under https.

mod auth;
mod ceremonies;
mod deadline;
mod decoy;
pub(crate) mod guard;
pub mod invites;
mod pages;
mod proxy;
pub mod secret;
pub mod sessions;
mod shares;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use thiserror::Error;
use tokio::net::TcpListener;
use url::Url;
use webauthn_rs::prelude::{Webauthn, WebauthnBuilder};

use crate::revocations::Revocations;
use crate::sandbox::Sandboxes;
use crate::users::UserStore;
pub use decoy::load_or_create_key as load_decoy_key;
pub use invites::{InviteError, Invites, DEFAULT_INVITE_LIFETIME};
pub use sessions::Sessions;
pub use tls::{acceptor as tls_acceptor, TlsError};
pub use tokio_rustls::TlsAcceptor;

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 4096;

/// What one client may hold of the web server before it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections one address (an IPv6 /64) may hold open at once.
    pub per_address: usize,
    /// Time a client has to send a request's headers (also while a kept-alive connection
    /// waits for its next request).
    pub headers: Duration,
    /// Time a client has to send a request's body, once its headers are in.
    pub body: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            per_address: crate::admission::DEFAULT_WEB_PER_ADDRESS,
            headers: Duration::from_secs(30),
            body: Duration::from_secs(30),
        }
    }
}
/// Largest request body read before knowing who sends it (a passkey's answer is a few KiB;
/// `/api/*` reads its own, after the session check, up to a protocol frame).
const MAX_BODY: usize = 64 << 10;
/// A request (its body read, its answer made) must be done within this; sockets, once
/// upgraded, are not requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

/// How the web side is set up.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where browsers reach this server, e.g. `https://choir.example.com`: passkeys are bound
    /// to its host, and requests from any other origin are refused.
    pub origin: Url,
    pub session_idle: Duration,
    pub session_max_age: Duration,
    /// Sign-in and registration attempts per client address per minute.
    pub signin_per_minute: u32,
    /// The model gateway, whose figures the account page shows.
    pub gateway: Option<Arc<crate::gateway::Gateway>>,
    /// What the hypervisor holds of each user's sandbox's data at most (shared with SSH).
    pub budgets: choir_client::budget::Budgets,
    /// The secret that makes up credential ids for names without passkeys
    /// ([`load_decoy_key`]).
    pub decoy_key: [u8; 32],
}

#[derive(Debug, Error)]
pub enum WebError {
    #[error("--origin must be an http:// or https:// URL with a host and nothing after it, like https://choir.example.com: {0}")]
    BadOrigin(String),
    #[error("passkeys cannot work with origin {origin}: {reason}")]
    Webauthn { origin: String, reason: String },
}

/// What every request shares.
pub struct Web {
    origin: String,
    webauthn: Webauthn,
    users: UserStore,
    invites: Invites,
    sessions: Sessions,
    ceremonies: ceremonies::Ceremonies,
    decoys: decoy::Decoys,
    limiter: guard::RateLimiter,
    sandboxes: Sandboxes,
    revocations: Revocations,
    /// Open sockets and API requests per user.
    tabs: crate::ssh::ChannelCounts,
    api_requests: crate::ssh::ChannelCounts,
    /// Open sockets on shares, per owner.
    share_tabs: crate::ssh::ChannelCounts,
    /// Share requests per client address.
    share_limiter: guard::RateLimiter,
    /// `Strict-Transport-Security` on every answer (the origin is https).
    hsts: bool,
    gateway: Option<Arc<crate::gateway::Gateway>>,
    budgets: choir_client::budget::Budgets,
}

impl Web {
    pub fn new(
        config: &WebConfig,
        users: UserStore,
        sandboxes: Sandboxes,
        revocations: Revocations,
    ) -> Result<Arc<Self>, WebError> {
        let origin = check_origin(&config.origin)?;
        let host = config.origin.host_str().unwrap_or_default();
        let webauthn = WebauthnBuilder::new(host, &config.origin)
            .and_then(|builder| builder.rp_name("ChoirOS").build())
            .map_err(|err| WebError::Webauthn {
                origin: origin.clone(),
                reason: err.to_string(),
            })?;
        let pool = users.pool().clone();
        Ok(Arc::new(Self {
            webauthn,
            invites: Invites::new(pool.clone()),
            sessions: Sessions::new(
                pool,
                config.session_idle,
                config.session_max_age,
                config.origin.scheme() == "https",
            ),
            ceremonies: Default::default(),
            decoys: decoy::Decoys::new(&config.decoy_key, host),
            tabs: crate::ssh::ChannelCounts::new(proxy::MAX_TABS),
            api_requests: crate::ssh::ChannelCounts::new(proxy::MAX_API_REQUESTS),
            share_tabs: shares::tab_counts(),
            share_limiter: guard::RateLimiter::new(shares::SHARE_REQUESTS_PER_MINUTE),
            hsts: config.origin.scheme() == "https",
            gateway: config.gateway.clone(),
            budgets: config.budgets.clone(),
            limiter: guard::RateLimiter::new(config.signin_per_minute),
            origin,
            users,
            sandboxes,
            revocations,
        }))
    }
}

/// `scheme://host[:port]` of a URL that is only that.
pub fn check_origin(url: &Url) -> Result<String, WebError> {
    let bad = |why: &str| WebError::BadOrigin(format!("{url} {why}"));
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("has a user name or password"));
    }
    Ok(url.origin().ascii_serialization())
}

/// Every route.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(pages::desktop))
        .route("/signin", get(pages::sign_in))
        .route("/invite", get(pages::invite))
        .route("/account", get(pages::account))
        .route("/assets/{*file}", get(pages::asset))
        .route("/health", get(|| async { "ok" }))
        .route("/auth/invite", post(auth::check_invite))
        .route("/auth/register/start", post(auth::start_registration))
        .route("/auth/register/finish", post(auth::finish_registration))
        .route("/auth/signin/start", post(auth::start_sign_in))
        .route("/auth/signin/finish", post(auth::finish_sign_in))
        .route("/auth/passkeys", get(auth::list_passkeys))
        .route("/auth/passkeys/remove", post(auth::remove_passkey))
        .route("/auth/usage", get(auth::usage))
        .route("/auth/signout", post(auth::sign_out))
        .route("/ws", get(proxy::websocket))
        .route("/api/{*rest}", any(proxy::api))
        .route("/share/{owner}/{token}", get(shares::page))
        .route("/share/{owner}/{token}/ws", get(shares::websocket))
        .route("/share/{owner}/{token}/api/{*rest}", any(shares::api))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page") })
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            refuse_cross_site,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(web)
}

/// Refuses a state-changing request that does not come from a page of our origin; bounds a
/// request's time; marks https answers as https-only for good.
async fn refuse_cross_site(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    if guard::changes_state(request.method()) && !guard::same_origin(request.headers(), &web.origin)
    {
        tracing::info!(path = %request.uri().path(), "refused a cross-site request");
        return error(
            StatusCode::FORBIDDEN,
            "cross-site request refused: this request must come from a page of this site",
        );
    }
    let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(StatusCode::REQUEST_TIMEOUT, "the request took too long"),
    };
    if web.hsts {
        response.headers_mut().insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// A JSON error answer: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Serves `router` on `listener`, over TLS when `tls` is given, until the task is dropped.
/// A connection beyond an address's share is closed at once; a request's headers and body
/// must each arrive within their limits.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let admission = crate::admission::Admission::new(
        "web",
        crate::admission::Caps {
            per_address: limits.per_address,
            total: MAX_CONNECTIONS,
        },
    );
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(%err, "cannot accept a web connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(ticket) = admission.admit(peer.ip()) else {
            continue;
        };
        crate::admission::keep_alive(&stream);
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = (slot, ticket);
            let service = hyper::service::service_fn(move |mut request: Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let request = request.map(|body| {
                    axum::body::Body::new(deadline::DeadlineBody::new(
                        axum::body::Body::new(body),
                        limits.body,
                    ))
                });
                tower::ServiceExt::oneshot(router.clone(), request)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.headers);
            let served = match tls {
                Some(tls) => {
                    match tokio::time::timeout(
                        limits.headers.min(Duration::from_secs(10)),
                        tls.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => {
                            http.serve_connection(TokioIo::new(stream), service)
                                .with_upgrades()
                                .await
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(%err, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    }
                }
                None => {
                    http.serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await
                }
            };
            if let Err(err) = served {
                tracing::debug!(%err, %peer, "a web connection ended with an error");
            }
        });
    }
}

/// The address a request came from.
pub(crate) type Peer = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_a_scheme_a_host_and_maybe_a_port() {
        let origin = |text: &str| check_origin(&Url::parse(text).unwrap());
        assert_eq!(
            origin("https://choir.example.com").unwrap(),
            "https://choir.example.com"
        );
        assert_eq!(
            origin("https://choir.example.com:443/").unwrap(),
            "https://choir.example.com"
        );
        assert_eq!(
            origin("http://localhost:8080").unwrap(),
            "http://localhost:8080"
        );
        for bad in [
            "https://choir.example.com/desktop",
            "https://choir.example.com/?a=b",
            "https://user:pw@choir.example.com",
            "ftp://choir.example.com",
            "file:///tmp",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }
}
