//! A desktop session on a fixed 80x24 screen against a real daemon: keys in through the
//! input parser, escape sequences out, read back by vt100 into a screen.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use choir_client::client::ProtocolClient;
use choir_client::connect::find_endpoint;
use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_tui::desktop::Desktop;
use choir_tui::input::{InputEvent, InputParser};
use choir_tui::session::{self, SessionEnd};
use choir_tui::theme::Theme;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(10);

pub use choir_test_support::Screen;

pub async fn start(dir: &Path) -> RunningDaemon {
    Daemon::start(DaemonConfig::local(dir)).await.unwrap()
}

/// A desktop session on an 80x24 screen, connected to the daemon of `dir`.
pub struct Session {
    pub screen: Screen,
    keys: mpsc::UnboundedSender<InputEvent>,
    parser: InputParser,
    pub task: tokio::task::JoinHandle<(SessionEnd, Desktop)>,
}

impl Session {
    pub fn spawn(dir: &Path, name: &str) -> Session {
        Self::spawn_desktop(dir, name, Desktop::new(Theme::monochrome(), 0))
    }

    /// A session of `desktop` (a replay, say).
    pub fn spawn_desktop(dir: &Path, name: &str, mut desktop: Desktop) -> Session {
        let data_dir = dir.to_owned();
        let (client, updates) = ProtocolClient::spawn(move || find_endpoint(&data_dir), name);
        let screen = Screen::default().with_timeout(WAIT);
        let backend = CrosstermBackend::new(screen.clone());
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
        };
        let mut terminal = Terminal::with_options(backend, options).unwrap();
        let (keys, input) = mpsc::unbounded_channel::<InputEvent>();
        let input = Box::pin(futures_util::stream::unfold(input, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        }));
        let task = tokio::spawn(async move {
            let end = session::run(
                &mut terminal,
                (80, 24),
                &mut desktop,
                input,
                client,
                updates,
                || "09:41".into(),
            )
            .await
            .unwrap();
            (end, desktop)
        });
        Session {
            screen,
            keys,
            parser: InputParser::new(),
            task,
        }
    }

    pub fn type_bytes(&mut self, bytes: &[u8]) {
        for event in self.parser.feed(bytes) {
            self.keys.send(event).unwrap();
        }
    }

    pub async fn quit(mut self) -> Desktop {
        self.type_bytes(b"\x01q");
        let (end, desktop) = tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(end, SessionEnd::Quit);
        desktop
    }
}
