//! The pages: the desktop at `/` for a signed-in browser, the sign-in, invite and account
//! pages (one page of the web UI, `auth.html`, told which by a meta tag), and the assets.
//! Served by the hypervisor itself, never by a sandbox: no user's code ever runs on this
//! origin.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use super::Web;

/// `GET /`: the desktop, or the way to sign in.
pub(super) async fn desktop(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    match web.sessions.from_headers(&headers).await {
        Ok(Some(session)) => choir_web_assets::page_with_meta(
            "/",
            &[
                ("choir-user", &session.user),
                ("choir-signin", "/signin"),
                ("choir-account", "/account"),
            ],
        ),
        _ => Redirect::to("/signin").into_response(),
    }
}

fn auth_page(page: &str, user: Option<&str>) -> Response {
    let mut meta = vec![("choir-page", page)];
    if let Some(user) = user {
        meta.push(("choir-user", user));
    }
    choir_web_assets::page_with_meta("/auth.html", &meta)
}

/// `GET /signin`.
pub(super) async fn sign_in(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    match web.sessions.from_headers(&headers).await {
        Ok(Some(_)) => Redirect::to("/").into_response(),
        _ => auth_page("signin", None),
    }
}

/// `GET /invite#SECRET`: the secret stays in the fragment, which browsers never send.
pub(super) async fn invite() -> Response {
    auth_page("invite", None)
}

/// `GET /account`: one's passkeys, and signing out.
pub(super) async fn account(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    match web.sessions.from_headers(&headers).await {
        Ok(Some(session)) => auth_page("account", Some(&session.user)),
        _ => Redirect::to("/signin").into_response(),
    }
}

/// `GET /assets/...`.
pub(super) async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    choir_web_assets::file(uri.path(), &headers)
}
