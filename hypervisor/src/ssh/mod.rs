//! The SSH server: public-key authentication against registered users, the desktop on
//! `shell`, `choir` commands on `exec`; and the user name `OWNER.TOKEN` for a share of another
//! user's desktop (`share.rs`).

mod exec;
mod share;
mod shell;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use choir_proto::term_stream::TermInput;
use russh::keys::PrivateKey;
use russh::server::{Auth, Config, Handler, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet, Pty};
use std::sync::atomic::{AtomicBool, Ordering};

use choir_client::connect::ConnectError;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

use crate::admission::{self, Admission, Caps, GraceStream, LoggedIn, Ticket};
use crate::revocations::Revocations;
use crate::sandbox::Sandboxes;
use crate::users::UserStore;

pub use shell::clamp_size;

/// Messages of input (and resizes) waiting to be carried to a desktop.
const INPUT_QUEUE: usize = 64;

/// Channels (desktops and commands) one user may have open at once, over all connections,
/// unless configured otherwise.
pub const DEFAULT_CHANNELS_PER_USER: usize = 256;

/// What every connection shares.
pub struct Shared {
    pub users: UserStore,
    pub sandboxes: Sandboxes,
    /// Open channels per user.
    pub channels: ChannelCounts,
    /// Users removed while the server runs: their connections are closed.
    pub revocations: Revocations,
}

/// Open channels per user, counted by the [`ChannelSlot`]s they hold, and the most each may
/// have.
#[derive(Clone)]
pub struct ChannelCounts {
    open: Arc<std::sync::Mutex<HashMap<String, usize>>>,
    limit: usize,
}

/// One open channel of a user; gives its place back when dropped.
pub struct ChannelSlot {
    counts: ChannelCounts,
    user: String,
}

impl ChannelCounts {
    /// At most `limit` channels per user.
    pub fn new(limit: usize) -> Self {
        Self {
            open: Default::default(),
            limit,
        }
    }

    /// A place for one more channel of `user`, unless they have as many as allowed.
    pub(crate) fn take(&self, user: &str) -> Option<ChannelSlot> {
        let mut counts = self.open.lock().ok()?;
        let count = counts.entry(user.to_owned()).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ChannelSlot {
            counts: self.clone(),
            user: user.to_owned(),
        })
    }
}

impl Drop for ChannelSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.open.lock() {
            if let Some(count) = counts.get_mut(&self.user) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    counts.remove(&self.user);
                }
            }
        }
    }
}

/// What a connection may do before it logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Connections not logged in yet, per address and in all.
    pub caps: Caps,
    /// Time from accept to login; after it, the connection is closed.
    pub grace: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            caps: Caps {
                per_address: admission::DEFAULT_PER_ADDRESS,
                total: admission::DEFAULT_TOTAL,
            },
            grace: admission::DEFAULT_GRACE,
        }
    }
}

/// Serves SSH on `listener` until the task is dropped. A connection beyond the login limits
/// is closed at once, before a byte is sent; one that has not logged in within the grace
/// time is closed then.
pub async fn serve(
    listener: TcpListener,
    host_key: PrivateKey,
    shared: Arc<Shared>,
    limits: LoginLimits,
) -> std::io::Result<()> {
    let config = Arc::new(Config {
        // `none` for a share anyone with the link may open; refused for everything else.
        methods: MethodSet::from(&[MethodKind::None, MethodKind::PublicKey][..]),
        keys: vec![host_key],
        // Refusals take the same time whatever the reason.
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        nodelay: true,
        ..Config::default()
    });
    let admission = Admission::new("ssh", limits.caps);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors, most likely: wait for some to be given back.
                tracing::warn!(%err, "cannot accept an ssh connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(ticket) = admission.admit(peer.ip()) else {
            continue;
        };
        admission::keep_alive(&stream);
        let _ = stream.set_nodelay(true);
        tracing::debug!(%peer, "ssh connection");
        let logged_in = LoggedIn::default();
        let connection = Connection {
            shared: shared.clone(),
            peer: Some(peer.ip()),
            user: None,
            share: None,
            channels: HashMap::new(),
            removal: None,
            removed: Arc::new(AtomicBool::new(false)),
            login: Some(ticket),
            logged_in: logged_in.clone(),
        };
        let config = config.clone();
        tokio::spawn(async move {
            let stream = GraceStream::new(stream, limits.grace, logged_in);
            match russh::server::run_stream(config, stream, connection).await {
                Ok(session) => {
                    if let Err(err) = session.await {
                        tracing::debug!(%err, %peer, "ssh connection ended with an error");
                    }
                }
                Err(err) => tracing::debug!(%err, %peer, "ssh connection closed before it began"),
            }
        });
    }
}

/// One channel's state.
#[derive(Default)]
struct ChannelState {
    /// Counts against the user's channel limit while the channel is open.
    _slot: Option<ChannelSlot>,
    size: Option<(u16, u16)>,
    term: String,
    /// Input for a running desktop (drawn by the sandbox).
    desktop: Option<mpsc::Sender<TermInput>>,
    /// Bytes for a running `choir` command's stdin.
    stdin: Option<mpsc::Sender<Vec<u8>>>,
}

pub struct Connection {
    shared: Arc<Shared>,
    /// The client's address.
    peer: Option<std::net::IpAddr>,
    user: Option<String>,
    /// Logged in with a share of another user's desktop (and then `user` is `None`).
    share: Option<share::ShareLogin>,
    channels: HashMap<ChannelId, ChannelState>,
    /// Removals announced since this user logged in, until a task watches them.
    removal: Option<broadcast::Receiver<String>>,
    /// Set when the user was removed: their desktops stop bringing the sandbox back.
    removed: Arc<AtomicBool>,
    /// Counts against the limits on connections not logged in, until it logs in.
    login: Option<Ticket>,
    /// Told when it logs in: the grace time no longer applies.
    logged_in: LoggedIn,
}

impl Connection {
    /// It logged in: it no longer counts against the limits before login.
    fn accepted(&mut self) -> Auth {
        self.logged_in.set();
        self.login = None;
        Auth::Accept
    }

    async fn start_desktop(&mut self, channel: ChannelId, session: &mut Session) {
        let handle = session.handle();
        let (user, found) = match (&self.user, &self.share) {
            (Some(user), _) => (
                user.clone(),
                self.shared
                    .sandboxes
                    .ensure(user)
                    .await
                    .map_err(|err| err.to_string()),
            ),
            (None, Some(share)) => (share.owner.clone(), share.endpoint(&self.shared).await),
            (None, None) => return,
        };
        let endpoint = match found {
            Ok(endpoint) => endpoint,
            Err(err) => {
                let message = format!("{err}\n").replace('\n', "\r\n");
                exec::refuse(handle, channel, message, 1).await;
                return;
            }
        };
        let state = self.channels.entry(channel).or_default();
        let size = state.size.unwrap_or((80, 24));
        let term = state.term.clone();
        let (keys, input) = mpsc::channel(INPUT_QUEUE);
        state.desktop = Some(keys);
        let sandboxes = self.shared.sandboxes.clone();
        let removed = self.removed.clone();
        // Before each reconnection: a sandbox that crashed or was stopped starts again.
        let locate = move || {
            if removed.load(Ordering::Acquire) {
                return Err(ConnectError::Unreachable {
                    url: endpoint.url.clone(),
                    reason: "the account was removed".into(),
                });
            }
            sandboxes.nudge(&user);
            Ok(endpoint.clone())
        };
        tokio::spawn(shell::run(handle, channel, locate, size, term, input));
    }
}

/// Closes the connection when its user is removed.
fn watch_removal(
    mut removals: broadcast::Receiver<String>,
    user: String,
    removed: Arc<AtomicBool>,
    handle: russh::server::Handle,
) {
    tokio::spawn(async move {
        loop {
            match removals.recv().await {
                Ok(name) if name == user => break,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
        removed.store(true, Ordering::Release);
        tracing::info!(user, "closing the connection of a removed user");
        let _ = handle
            .disconnect(
                russh::Disconnect::ByApplication,
                "your account was removed".into(),
                "en".into(),
            )
            .await;
    });
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        match share::login(&self.shared, self.peer, user, None).await {
            Some(login) => {
                tracing::info!(owner = login.owner, "ssh login with a share");
                self.share = Some(login);
                Ok(self.accepted())
            }
            None => Ok(Auth::reject()),
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if share::parse(user).is_some() {
            return Ok(
                match share::login(&self.shared, self.peer, user, Some(key.public_key)).await {
                    Some(login) => {
                        tracing::info!(owner = login.owner, viewer = ?login.viewer, "ssh login with a share");
                        self.share = Some(login);
                        self.accepted()
                    }
                    None => Auth::reject(),
                },
            );
        }
        match self.shared.users.authorized(user, key.public_key).await {
            Ok(true) => {
                tracing::info!(user, "ssh login");
                self.user = Some(user.to_owned());
                self.removal = Some(self.shared.revocations.removed_users());
                Ok(self.accepted())
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
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // A share's channels count against its owner's, apart from the owner's own.
        let user = match (&self.user, &self.share) {
            (Some(user), _) => user.clone(),
            (None, Some(share)) => format!("share:{}", share.owner),
            (None, None) => return Ok(()),
        };
        if let Some(removals) = self.removal.take() {
            watch_removal(
                removals,
                user.clone(),
                self.removed.clone(),
                session.handle(),
            );
        }
        let Some(slot) = self.shared.channels.take(&user) else {
            tracing::warn!(user, "refused a channel: too many open");
            // Dropping the reply refuses the channel.
            return Ok(());
        };
        self.channels.insert(
            channel.id(),
            ChannelState {
                _slot: Some(slot),
                ..ChannelState::default()
            },
        );
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
        if self.share.is_some() && words.len() > 1 {
            let message = "a share opens its desktop only: ssh -t with no command\n".to_owned();
            exec::refuse(handle, channel, message, 2).await;
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
            Ok(run) => {
                let stdin = exec::pump(handle, channel, run);
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
            // Waiting here when the desktop is behind stops reading from this client: TCP
            // pushes back, nothing piles up.
            let _ = keys.send(TermInput::Bytes(data.to_vec())).await;
        } else if let Some(stdin) = &state.stdin {
            let _ = stdin.send(data.to_vec()).await;
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
            let _ = keys.send(TermInput::Resize(size.0, size.1)).await;
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
