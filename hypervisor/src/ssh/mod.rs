//! The SSH server: public-key authentication against registered users, the desktop on
//! `shell`, `choir` commands on `exec`.

mod exec;
mod shell;
mod writer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use choir_tui::input::{InputEvent, InputParser};
use russh::keys::PrivateKey;
use russh::server::{Auth, Config, Handler, Msg, Server, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet, Pty};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::sandbox::Sandboxes;
use crate::users::UserStore;

pub use shell::clamp_size;

/// What every connection shares.
pub struct Shared {
    pub users: UserStore,
    pub sandboxes: Sandboxes,
}

/// Starts serving SSH on `listener`; runs until the task is dropped or the listener fails.
pub async fn serve(
    listener: TcpListener,
    host_key: PrivateKey,
    shared: Arc<Shared>,
) -> std::io::Result<()> {
    let config = Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        keys: vec![host_key],
        // Refusals take the same time whatever the reason.
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        nodelay: true,
        ..Config::default()
    };
    let mut server = SshServer { shared };
    server.run_on_socket(Arc::new(config), &listener).await
}

struct SshServer {
    shared: Arc<Shared>,
}

impl Server for SshServer {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        tracing::info!(?peer, "ssh connection");
        Connection {
            shared: self.shared.clone(),
            user: None,
            channels: HashMap::new(),
        }
    }
}

/// One channel's state.
#[derive(Default)]
struct ChannelState {
    size: Option<(u16, u16)>,
    term: String,
    parser: InputParser,
    /// Keys for a running desktop.
    desktop: Option<mpsc::UnboundedSender<InputEvent>>,
    /// Bytes for a running `choir` command's stdin.
    stdin: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

pub struct Connection {
    shared: Arc<Shared>,
    user: Option<String>,
    channels: HashMap<ChannelId, ChannelState>,
}

impl Connection {
    async fn start_desktop(&mut self, channel: ChannelId, session: &mut Session) {
        let handle = session.handle();
        let Some(user) = self.user.clone() else {
            return;
        };
        let endpoint = match self.shared.sandboxes.ensure(&user).await {
            Ok(endpoint) => endpoint,
            Err(err) => {
                let message = format!("{err}\n").replace('\n', "\r\n");
                exec::refuse(handle, channel, message, 1).await;
                return;
            }
        };
        let state = self.channels.entry(channel).or_default();
        let size = state.size.unwrap_or((80, 24));
        let theme = shell::theme_for(&state.term);
        let (keys, input) = mpsc::unbounded_channel();
        state.desktop = Some(keys);
        let sandboxes = self.shared.sandboxes.clone();
        // Before each reconnection: a sandbox that crashed or was stopped starts again.
        let locate = move || {
            sandboxes.nudge(&user);
            Ok(endpoint.clone())
        };
        tokio::spawn(shell::run(handle, channel, locate, size, theme, input));
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        match self.shared.users.authorized(user, key.public_key).await {
            Ok(true) => {
                tracing::info!(user, "ssh login");
                self.user = Some(user.to_owned());
                Ok(Auth::Accept)
            }
            Ok(false) => {
                tracing::info!(user, "ssh login refused: unknown user or key");
                Ok(Auth::reject())
            }
            Err(err) => {
                tracing::error!(%err, "cannot check a key");
                Ok(Auth::reject())
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), ChannelState::default());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let state = self.channels.entry(channel).or_default();
        state.size = Some(clamp_size(cols, rows));
        state.term = term.to_owned();
        session.channel_success(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        self.start_desktop(channel, session).await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let handle = session.handle();
        let line = String::from_utf8_lossy(data).into_owned();
        let words = match shell_words::split(&line) {
            Ok(words) => words,
            Err(err) => {
                exec::refuse(
                    handle,
                    channel,
                    format!("cannot parse the command: {err}\n"),
                    2,
                )
                .await;
                return Ok(());
            }
        };
        if let Err((message, status)) = exec::check(&words) {
            exec::refuse(handle, channel, message, status).await;
            return Ok(());
        }
        let has_pty = self
            .channels
            .get(&channel)
            .is_some_and(|state| state.size.is_some());
        if words.len() == 1 {
            // `ssh -t host choir` is the desktop; without a terminal it cannot be drawn.
            if has_pty {
                self.start_desktop(channel, session).await;
            } else {
                exec::refuse(
                    handle,
                    channel,
                    "the desktop needs a terminal: use ssh -t, or name a choir command\n".into(),
                    2,
                )
                .await;
            }
            return Ok(());
        }
        let Some(user) = self.user.clone() else {
            return Ok(());
        };
        match self.shared.sandboxes.exec(&user, &words[1..]).await {
            Ok(child) => {
                let stdin = exec::pump(handle, channel, child);
                self.channels.entry(channel).or_default().stdin = Some(stdin);
            }
            Err(err) => exec::refuse(handle, channel, format!("{err}\n"), 1).await,
        }
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(state) = self.channels.get_mut(&channel) else {
            return Ok(());
        };
        if let Some(keys) = &state.desktop {
            let mut events = state.parser.feed(data);
            // SSH clients send whole sequences per packet: a lone ESC at the end is the key.
            events.extend(state.parser.flush());
            for event in events {
                let _ = keys.send(event);
            }
        } else if let Some(stdin) = &state.stdin {
            let _ = stdin.send(data.to_vec());
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let state = self.channels.entry(channel).or_default();
        let size = clamp_size(cols, rows);
        state.size = Some(size);
        if let Some(keys) = &state.desktop {
            let _ = keys.send(InputEvent::Resize(size.0, size.1));
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(state) = self.channels.get_mut(&channel) {
            // End of input: a command's stdin closes; a desktop ends.
            state.stdin = None;
            state.desktop = None;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}
