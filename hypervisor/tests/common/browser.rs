//! A browser as the hypervisor's web server sees one, in Rust: HTTP with its own cookie, the
//! `Origin` a page of the site would send, WebAuthn through `webauthn-authenticator-rs`'s soft
//! passkey (a real authenticator protocol, in process), and the protocol WebSocket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use url::Url;
use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    pub origin: String,
    pub base: String,
    pub cookie: Option<String>,
    http: reqwest::Client,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl Browser {
    pub fn new(origin: &str, addr: SocketAddr) -> Self {
        Self::with_client(
            origin,
            &format!("http://{addr}"),
            reqwest::Client::builder(),
        )
    }

    pub fn with_client(origin: &str, base: &str, builder: reqwest::ClientBuilder) -> Self {
        Self {
            origin: origin.to_owned(),
            base: base.to_owned(),
            cookie: None,
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        // Like a browser: take what Set-Cookie says (Max-Age=0 removes).
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap().to_owned();
            self.cookie = if set.contains("Max-Age=0") {
                None
            } else {
                Some(pair)
            };
        }
        Answer {
            status: response.status().as_u16(),
            headers,
            text: response.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A POST as a page of the site makes it: JSON, with our Origin.
    pub async fn post(&mut self, path: &str, body: Value) -> Answer {
        let origin = self.origin.clone();
        self.post_from(path, body, Some(&origin)).await
    }

    /// A POST with the given Origin (or none).
    pub async fn post_from(&mut self, path: &str, body: Value, origin: Option<&str>) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        self.send(request).await
    }

    /// Registers `passkey` with the invite link `link`.
    pub async fn register(&mut self, link: &str, passkey: &mut SoftPasskey) -> Answer {
        let invite = link.split_once('#').unwrap().1.to_owned();
        let start = self
            .post(
                "/auth/register/start",
                json!({ "invite": invite, "label": "soft" }),
            )
            .await;
        assert_eq!(start.status, 200, "{start:?}");
        self.finish_registration(start.json(), passkey).await
    }

    /// Registers one more passkey from a signed-in session.
    pub async fn add_passkey(&mut self, passkey: &mut SoftPasskey, label: &str) -> Answer {
        let start = self
            .post("/auth/register/start", json!({ "label": label }))
            .await;
        assert_eq!(start.status, 200, "{start:?}");
        self.finish_registration(start.json(), passkey).await
    }

    async fn finish_registration(&mut self, start: Value, passkey: &mut SoftPasskey) -> Answer {
        let options = serde_json::from_value(start["options"].clone()).unwrap();
        let credential = passkey
            .do_registration(Url::parse(&self.origin).unwrap(), options)
            .unwrap();
        self.post(
            "/auth/register/finish",
            json!({ "ceremony": start["ceremony"], "credential": credential }),
        )
        .await
    }

    /// Signs in as `user` with `passkey`. Status 0: the server did not ask for this passkey,
    /// so the authenticator had nothing to sign with.
    pub async fn sign_in(&mut self, user: &str, passkey: &mut SoftPasskey) -> Answer {
        let start = self
            .post("/auth/signin/start", json!({ "user": user }))
            .await;
        if start.status != 200 {
            return start;
        }
        let start = start.json();
        self.finish_sign_in(&start, passkey).await
    }

    /// The second half of a sign-in begun with `start` (the answer to `/auth/signin/start`).
    pub async fn finish_sign_in(&mut self, start: &Value, passkey: &mut SoftPasskey) -> Answer {
        let options = serde_json::from_value(start["options"].clone()).unwrap();
        let Ok(credential) = passkey.do_authentication(Url::parse(&self.origin).unwrap(), options)
        else {
            return Answer {
                status: 0,
                headers: Default::default(),
                text: String::new(),
            };
        };
        self.post(
            "/auth/signin/finish",
            json!({ "ceremony": start["ceremony"], "credential": credential }),
        )
        .await
    }

    /// Opens `/ws` with our cookie and the given Origin; the upgrade's refusal as `Err(status)`.
    pub async fn websocket_from(&self, origin: &str) -> Result<Socket, u16> {
        self.websocket_at("/ws", origin).await
    }

    /// Opens the socket at `path` (a share's, say) with our cookie and the given Origin.
    pub async fn websocket_at(&self, path: &str, origin: &str) -> Result<Socket, u16> {
        let url = format!("{}{path}", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        if let Some(cookie) = &self.cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(err) => panic!("websocket: {err}"),
        }
    }

    /// `/ws` from a page of the site, `hello` sent without a token.
    pub async fn desktop(&self) -> Socket {
        let mut socket = self.websocket_from(&self.origin).await.unwrap();
        let hello =
            json!({ "type": "hello", "protocol": choir_proto::PROTOCOL_VERSION, "client": "test" });
        socket.send(Message::text(hello.to_string())).await.unwrap();
        socket
    }
}

/// The next text frame, as JSON; `Err` with the close code and reason when the socket closes.
pub async fn next_frame(socket: &mut Socket) -> Result<Value, (u16, String)> {
    loop {
        let message = tokio::time::timeout(super::WAIT, socket.next())
            .await
            .expect("no frame in time");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return Err(frame
                    .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                    .unwrap_or((1005, String::new())))
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Err((1006, String::new())),
        }
    }
}

/// Frames until one of `kind` (`welcome`, `ack`, …).
pub async fn frame_of(socket: &mut Socket, kind: &str) -> Result<Value, (u16, String)> {
    loop {
        let frame = next_frame(socket).await?;
        if frame["type"] == kind {
            return Ok(frame);
        }
    }
}
