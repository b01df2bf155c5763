//! What the SSH benchmarks share: the release binaries, a `choir-hypervisor serve` with
//! users who log in with one fresh key, and an SSH client that trusts any host key.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use choir_test_support::procs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::{Algorithm, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;

pub mod web;

/// The `p` quantile of `samples` (sorted here).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Every process whose command line contains `needle`: pid and command line.
pub fn processes_with(needle: &str) -> Vec<(u32, String)> {
    procs::pids()
        .map(|pid| (pid, procs::command_line(pid)))
        .filter(|(_, command)| command.contains(needle))
        .collect()
}

/// Connects, authenticates, runs `command` over SSH; the time it took from the TCP connect to
/// the exit status. Panics unless the command succeeds.
pub async fn ssh_exec(port: u16, user: &str, key: &PrivateKey, command: &str) -> Duration {
    const WAIT: Duration = Duration::from_secs(120);
    let started = Instant::now();
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(WAIT),
        ..Default::default()
    });
    let mut session = client::connect(config, ("127.0.0.1", port), Client)
        .await
        .unwrap();
    let auth = session
        .authenticate_publickey(
            user,
            PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None),
        )
        .await
        .unwrap();
    assert!(auth.success());
    let mut channel = session.channel_open_session().await.unwrap();
    channel.exec(true, command).await.unwrap();
    channel.eof().await.unwrap();
    let mut status = None;
    let mut out = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(WAIT, channel.wait()).await {
        match msg {
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => {
                out.extend_from_slice(&data)
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(
        status,
        Some(0),
        "{command}: {}",
        String::from_utf8_lossy(&out)
    );
    let _ = session
        .disconnect(russh::Disconnect::ByApplication, "", "")
        .await;
    elapsed
}

pub struct Client;

impl client::Handler for Client {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A running hypervisor; stopped (SIGTERM, so it stops its sandboxes first) when dropped.
pub struct Server {
    pub port: u16,
    /// The web server's origin and address, with `--http-listen`.
    pub web: Option<(String, std::net::SocketAddr)>,
    pub dir: PathBuf,
    pub key: PrivateKey,
    pub bins: PathBuf,
    /// What `serve` and the `user` commands were given besides the test's own environment.
    pub env: Vec<(String, String)>,
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Registers `users` (one key for all) and starts serving, with `args` for `serve`.
    pub fn start(users: &[String], args: &[&str]) -> Self {
        Self::start_with_env(users, args, &[])
    }

    /// As [`start`](Self::start), with `env` set for `serve`.
    pub fn start_with_env(users: &[String], args: &[&str], env: &[(&str, &str)]) -> Self {
        let bins = std::env::var_os("BENCH_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../target/release"));
        let program = bins.join("choir-hypervisor");
        assert!(
            program.is_file(),
            "{} is missing: run scripts/bench-ssh.sh",
            program.display()
        );
        let dir = tempfile::tempdir().unwrap();
        // Sandbox users walk down to their data dirs.
        std::fs::set_permissions(
            dir.path(),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711),
        )
        .unwrap();
        let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
        let key_file = dir.path().join("id.pub");
        std::fs::write(&key_file, key.public_key().to_openssh().unwrap()).unwrap();
        for user in users {
            let status = Command::new(&program)
                .arg("--data-dir")
                .arg(dir.path())
                .envs(env.iter().copied())
                .args(["user", "add", user, "--ssh-key"])
                .arg(&key_file)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let mut child = Command::new(&program)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--ssh-listen", "127.0.0.1:0"])
            .args(args)
            .env("CHOIR_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut web = None;
        let port = loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "the hypervisor did not start"
            );
            if let Some(rest) = line.trim().strip_prefix("ChoirOS hypervisor: web on ") {
                let (origin, rest) = rest.split_once(' ').unwrap();
                let addr = rest.rsplit(' ').next().unwrap().trim_end_matches(')');
                web = Some((origin.to_owned(), addr.parse().unwrap()));
            } else if let Some(addr) = line.trim().strip_prefix("ChoirOS hypervisor: SSH on ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        Self {
            port,
            web,
            dir: dir.path().to_owned(),
            key,
            bins,
            env: env
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            child,
            _stdout: stdout,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
