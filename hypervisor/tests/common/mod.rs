//! A real `choir-hypervisor serve` for the tests: its own data dir, registered users with fresh
//! keys, a uid range of its own, an SSH client (russh) to reach it, and helpers to run `choir`
//! commands and scripts in a user's sandbox. Dropping it stops the hypervisor (SIGTERM, then
//! SIGKILL) and kills anything left running under its uids.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::{Algorithm, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;

pub mod browser;
pub mod docker;
pub mod haproxy;
pub mod netns;
pub mod postgres;
pub mod provider;

pub const WAIT: Duration = Duration::from_secs(30);

/// Where the binaries are taken from instead of the build's directory (set once, by a test
/// binary of its own: see `use_programs_from`).
static PROGRAMS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Runs the hypervisor (and so its sandboxes' programs) from copies in `dir`.
pub fn use_programs_from(dir: &Path) {
    for name in ["choir-hypervisor", "choir-daemon", "choir"] {
        std::fs::copy(program(name), dir.join(name)).unwrap();
    }
    PROGRAMS.set(dir.to_owned()).unwrap();
}

/// The binaries built next to this crate's (cargo test --workspace builds them all).
pub fn program(name: &str) -> PathBuf {
    let dir = PROGRAMS.get().cloned().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_BIN_EXE_choir-hypervisor"))
            .parent()
            .unwrap()
            .to_owned()
    });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

pub fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Says why a test that needs root does nothing here (CI runs as root).
pub fn needs_root(test: &str) -> bool {
    if root() {
        return false;
    }
    eprintln!("{test}: skipped, it needs root to give sandboxes uids of their own");
    true
}

pub struct User {
    pub name: String,
    pub key: PrivateKey,
}

pub struct Hypervisor {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub uids: RangeInclusive<u32>,
    pub users: Vec<User>,
    args: Vec<String>,
    /// Environment for `serve` besides the test's own.
    env: Vec<(String, String)>,
    child: Option<Child>,
    output: Arc<Mutex<String>>,
}

impl Hypervisor {
    /// Starts a hypervisor with `users` registered; `args` go to `serve`.
    pub fn start(users: &[&str], args: &[&str]) -> Self {
        Self::start_with_env(users, args, &[])
    }

    /// As [`start`](Self::start), with `env` set for `serve` (the operator's environment).
    pub fn start_with_env(users: &[&str], args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Sandbox users must be able to walk down to their data dirs.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        // High above real users, and below 2^31 (Docker refuses more).
        let base = 2_000_000_000 + 1000 * (rand::random::<u32>() % 100_000);
        let uids = base..=base + 999;
        let mut registered = Vec::new();
        for name in users {
            let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
            let file = dir.path().join(format!("{name}.pub"));
            std::fs::write(&file, key.public_key().to_openssh().unwrap()).unwrap();
            let out = hypervisor_command(dir.path())
                .envs(env.iter().copied())
                .args(["user", "add", name, "--ssh-key"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(out.status.success(), "user add: {out:?}");
            registered.push(User {
                name: name.to_string(),
                key,
            });
        }
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let (child, addr, output) = serve(dir.path(), &uids, &args, &env, users.len() > 1);
        Self {
            dir,
            addr,
            uids,
            users: registered,
            args,
            env,
            child: Some(child),
            output,
        }
    }

    /// Stops the hypervisor (SIGTERM) and starts it again on the same data dir.
    pub fn restart(&mut self) {
        assert!(self.terminate(WAIT).success());
        let (child, addr, output) = serve(
            self.dir.path(),
            &self.uids,
            &self.args,
            &self.env,
            self.users.len() > 1,
        );
        self.child = Some(child);
        self.addr = addr;
        self.output = output;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Everything the hypervisor printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The web server's origin and address (`serve --http-listen`).
    pub fn web(&self) -> (String, SocketAddr) {
        let output = self.output();
        let line = output
            .lines()
            .find_map(|line| line.strip_prefix("ChoirOS hypervisor: web on "))
            .unwrap_or_else(|| panic!("no web server announced:\n{output}"));
        let (origin, rest) = line.split_once(' ').unwrap();
        let addr = rest.rsplit(' ').next().unwrap().trim_end_matches(')');
        (origin.to_owned(), addr.parse().unwrap())
    }

    /// `user invite NAME`: the link it prints.
    pub fn invite(&self, user: &str, args: &[&str]) -> String {
        let out = self.run(&[&["user", "invite", user][..], args].concat());
        assert!(out.status.success(), "user invite: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn sandbox_dir(&self, user: &str) -> PathBuf {
        self.dir.path().join("sandboxes").join(user)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn key(&self, user: &str) -> &PrivateKey {
        &self.users.iter().find(|u| u.name == user).unwrap().key
    }

    /// `choir-hypervisor --data-dir DIR ARGS`, with the environment `serve` was given.
    pub fn run(&self, args: &[&str]) -> Output {
        hypervisor_command(self.dir.path())
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .args(args)
            .output()
            .unwrap()
    }

    /// `sandbox list --json`, the entry for `user`.
    pub fn sandbox(&self, user: &str) -> serde_json::Value {
        let out = self.run(&["sandbox", "list", "--json"]);
        assert!(out.status.success(), "sandbox list: {out:?}");
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        reply["sandboxes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["user"] == user)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Waits until `user`'s sandbox is in `state`.
    pub fn wait_for_state(&self, user: &str, state: &str, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let sandbox = self.sandbox(user);
            if sandbox["state"] == state {
                return sandbox;
            }
            assert!(
                Instant::now() < deadline,
                "{user}'s sandbox never became {state}: {sandbox}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, and the exit status once it has stopped (SIGKILL after `within`).
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("still running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "the hypervisor did not stop within {within:?}:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crashed or lost host would end: nothing is stopped or cleaned up.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("still running");
        let _ = child.kill();
        let _ = child.wait();
    }

    pub async fn connect(&self, user: &str) -> client::Handle<Client> {
        connect(self.addr, user, self.key(user))
            .await
            .unwrap_or_else(|| panic!("{user} could not log in"))
    }

    /// Processes running under this hypervisor's sandbox uids.
    pub fn sandbox_processes(&self) -> Vec<(u32, u32, String)> {
        processes()
            .into_iter()
            .filter(|(_, uid, _)| self.uids.contains(uid))
            .collect()
    }

    /// `choir-daemon` processes serving one of this hypervisor's sandboxes.
    pub fn daemons(&self) -> Vec<(u32, u32, String)> {
        let sandboxes = self.dir.path().join("sandboxes");
        let sandboxes = sandboxes.to_string_lossy();
        processes()
            .into_iter()
            .filter(|(_, _, cmdline)| {
                cmdline.contains("choir-daemon") && cmdline.contains(sandboxes.as_ref())
            })
            .collect()
    }
}

impl Drop for Hypervisor {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for _ in 0..50 {
            let left: Vec<u32> = self
                .sandbox_processes()
                .into_iter()
                .chain(self.daemons())
                .map(|(pid, _, _)| pid)
                .collect();
            if left.is_empty() {
                break;
            }
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `choir-hypervisor serve` on `dir`; returns it once it listens.
fn serve(
    dir: &Path,
    uids: &RangeInclusive<u32>,
    args: &[String],
    env: &[(String, String)],
    several: bool,
) -> (Child, SocketAddr, Arc<Mutex<String>>) {
    let mut command = hypervisor_command(dir);
    command
        .args(["serve", "--ssh-listen", "127.0.0.1:0", "--uid-range"])
        .arg(format!("{}-{}", uids.start(), uids.end()))
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !root() && several {
        command.arg("--unsafe-shared-uid");
    }
    let mut child = command.spawn().unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let copy = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("ChoirOS hypervisor: SSH on ") {
                let _ = port_tx.send(addr.parse::<SocketAddr>().unwrap());
            }
            copy.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let copy = output.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            copy.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    match port_rx.recv_timeout(WAIT) {
        Ok(addr) => (child, addr, output),
        Err(_) => {
            let _ = child.kill();
            let text = output.lock().unwrap().clone();
            panic!("the hypervisor did not start:\n{text}");
        }
    }
}

fn hypervisor_command(dir: &Path) -> Command {
    let mut command = Command::new(program("choir-hypervisor"));
    command
        .arg("--data-dir")
        .arg(dir)
        .env_remove("CHOIR_HYPERVISOR_DIR")
        .env("CHOIR_LOG", "info");
    command
}

pub use choir_test_support::procs::processes;

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

pub async fn connect(
    addr: SocketAddr,
    user: &str,
    key: &PrivateKey,
) -> Option<client::Handle<Client>> {
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(WAIT * 2),
        ..Default::default()
    });
    let mut session = tokio::time::timeout(WAIT, client::connect(config, addr, Client))
        .await
        .unwrap()
        .unwrap();
    let key = PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None);
    let auth = session.authenticate_publickey(user, key).await.unwrap();
    auth.success().then_some(session)
}

/// What an exec request gave back.
#[derive(Debug)]
pub struct Exec {
    pub out: String,
    pub err: String,
    pub status: Option<u32>,
}

impl Exec {
    /// The tool result `choir --exec` printed.
    pub fn result(&self) -> serde_json::Value {
        serde_json::from_str(self.out.trim())
            .unwrap_or_else(|_| panic!("not a tool result: {self:?}"))
    }
}

/// Runs an exec request with `stdin`; returns stdout, stderr and the exit status.
pub async fn exec_with(session: &client::Handle<Client>, command: &str, stdin: &[u8]) -> Exec {
    exec_within(session, command, stdin, WAIT * 2).await
}

/// [`exec_with`], waiting up to `quiet` for each message (a build says nothing for long).
pub async fn exec_within(
    session: &client::Handle<Client>,
    command: &str,
    stdin: &[u8],
    quiet: Duration,
) -> Exec {
    let mut channel = session.channel_open_session().await.unwrap();
    channel.exec(true, command).await.unwrap();
    if !stdin.is_empty() {
        channel.data_bytes(stdin.to_vec()).await.unwrap();
    }
    channel.eof().await.unwrap();
    let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
    loop {
        let msg = match tokio::time::timeout(quiet, channel.wait()).await {
            Ok(Some(msg)) => msg,
            Ok(None) => break,
            Err(_) => panic!(
                "`{command}` gave no answer within {quiet:?}; so far stdout {:?}, stderr {:?}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            ),
        };
        match msg {
            ChannelMsg::Data { data } => out.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => err.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    Exec {
        out: String::from_utf8_lossy(&out).into(),
        err: String::from_utf8_lossy(&err).into(),
        status,
    }
}

pub async fn exec(session: &client::Handle<Client>, command: &str) -> Exec {
    exec_with(session, command, b"").await
}

/// `choir --exec bash --arg cmd=SCRIPT` in the session's sandbox: the tool's output and exit
/// code.
pub async fn bash(session: &client::Handle<Client>, script: &str) -> (String, i64) {
    let arg = shell_words::quote(&format!("cmd={script}")).into_owned();
    let run = exec(session, &format!("choir --exec bash --arg {arg}")).await;
    let result = run.result();
    (
        result["output"].as_str().unwrap_or_default().to_owned(),
        result["exit_code"].as_i64().unwrap_or(-1),
    )
}

/// `serve`'s flags that lend sandboxes the toolchain this test runs with (cargo's, with the
/// wasm32 target the set-up adds) and a copy of the apps' crates kept in the build's tmp dir.
pub fn app_build_args() -> Vec<String> {
    let out = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    assert!(out.status.success(), "{out:?}");
    vec![
        "--apps-rust".into(),
        String::from_utf8(out.stdout).unwrap().trim().into(),
        "--apps-cache".into(),
        app_crates_cache().to_string_lossy().into_owned(),
    ]
}

/// Where [`app_build_args`] keeps the copy of the apps' crates.
pub fn app_crates_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("app-crates")
}

/// `choir app new NAME`, `build` and `open` in the session's sandbox, then waits until the
/// app's first view (its name, nothing pressed) is in the log; the build's own words.
pub async fn build_and_show_an_app(session: &client::Handle<Client>, name: &str) -> Exec {
    // A build into the sandbox's empty build dir compiles the bindings generator first.
    const BUILD_QUIET: Duration = Duration::from_secs(600);
    let made = exec(session, &format!("choir app new {name}")).await;
    assert_eq!(made.status, Some(0), "{made:?}");
    let started = std::time::Instant::now();
    let built = exec_within(
        session,
        &format!("choir app build {name}"),
        b"",
        BUILD_QUIET,
    )
    .await;
    assert_eq!(built.status, Some(0), "{built:?}");
    assert!(built.out.contains("installed"), "{built:?}");
    eprintln!(
        "built {name} in its sandbox in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let opened = exec(session, &format!("choir app open {name}")).await;
    assert_eq!(opened.status, Some(0), "{opened:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let events = exec(session, "choir events").await.out;
        let shown = events.lines().any(|line| {
            line.contains("app.view_shown")
                && line.contains(name)
                && line.contains("pressed 0 times")
        });
        if shown {
            return built;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no view of {name} in:\n{events}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A hostile user in the session's sandbox tries to change what every sandbox builds apps
/// with (the toolchain at `rust` and the crates' copy, lent at /run/choir), and to reach them
/// where the host keeps them; nothing changes, and the toolchain still answers.
pub async fn lent_toolchain_holds(session: &client::Handle<Client>, rust: &Path) {
    let crates = app_crates_cache().join(choir_apps::crates_dir_name());
    let wit_bindgen = std::fs::read_dir(&crates)
        .unwrap()
        .map(|entry| entry.unwrap().path().join("src/lib.rs"))
        .find(|lib| lib.to_string_lossy().contains("/wit-bindgen/"))
        .expect("wit-bindgen among the copied crates");
    let before = std::fs::read(&wit_bindgen).unwrap();
    let rust_bin = rust.join("bin");
    let attacks = [
        ("plant a program in the toolchain", "touch /run/choir/rust/bin/planted".to_owned()),
        ("replace rustc", "cp /bin/true /run/choir/rust/bin/rustc".to_owned()),
        (
            "change a crate every build compiles",
            "f=$(find /run/choir/crates -path '*/wit-bindgen/src/lib.rs'); test -n \"$f\" && echo 'compile_error!(\"planted\");' >> \"$f\"".to_owned(),
        ),
        ("delete the crates", "rm -rf /run/choir/crates/wit-bindgen && test ! -e /run/choir/crates/wit-bindgen".to_owned()),
        ("remount the toolchain writable", "mount -o remount,rw /run/choir/rust".to_owned()),
        ("read the toolchain where the host keeps it", format!("ls {}", rust_bin.display())),
        ("read the crates where the host keeps them", format!("ls {}", crates.display())),
    ];
    for (what, script) in &attacks {
        let (out, code) = bash(session, script).await;
        assert_ne!(code, 0, "{what} worked: {out}");
    }
    assert!(!rust_bin.join("planted").exists());
    assert_eq!(std::fs::read(&wit_bindgen).unwrap(), before);
    // The toolchain is the host's, unchanged: cargo still answers there.
    let (out, code) = bash(session, "/run/choir/rust/bin/cargo --version").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cargo "), "{out}");
}
