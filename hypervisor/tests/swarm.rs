//! Sandboxes as Docker Swarm services behind two hypervisors (started by scripts/e2e-swarm.sh:
//! three `dockerd` in network namespaces of its own, formed into a Swarm, the image on each;
//! skipped, saying why, without them). This test adds a PostgreSQL server of its own, two
//! `choir-hypervisor serve --backend swarm` on it, and HAProxy in front of both:
//!
//! - users land on different nodes, each sandbox a service with the docker backend's
//!   confinement, and one cannot reach another's daemon, the host, or its node;
//! - either hypervisor serves any user, in the same sandbox;
//! - Swarm restarts a killed daemon, and both hypervisors follow it;
//! - a node's engine stopped: its users get a clear message, the others carry on, and once
//!   it is back so are they; a node drained: its users are told so, until it is active;
//! - a hypervisor killed: SSH (OpenSSH, with the host key it knew) and browser sessions (the
//!   desktop's WebSocket, and the page in headless Chromium, `web-tests/failover.mjs`) go on
//!   through the other, in the same sandbox, which kept running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::browser::{frame_of, Browser};
use common::haproxy::{free_port, Haproxy};
use common::postgres::Postgres;
use common::{bash, Hypervisor, WAIT};
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// The Swarm scripts/e2e-swarm.sh made: each node's engine, its dockerd's pid, its address.
struct Swarm {
    engines: Vec<String>,
    pids: Vec<i32>,
    addrs: Vec<String>,
}

impl Swarm {
    fn from_env(test: &str) -> Option<Self> {
        let list = |name: &str| -> Vec<String> {
            std::env::var(name)
                .unwrap_or_default()
                .split(',')
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let engines = list("CHOIR_TEST_SWARM_HOSTS");
        if engines.len() != 3 {
            eprintln!("{test}: skipped: no Swarm (scripts/e2e-swarm.sh makes one and runs this)");
            return None;
        }
        Some(Self {
            engines,
            pids: list("CHOIR_TEST_SWARM_PIDS")
                .iter()
                .map(|pid| pid.parse().unwrap())
                .collect(),
            addrs: list("CHOIR_TEST_SWARM_ADDRS"),
        })
    }

    /// `docker -H ENGINE ARGS`: stdout, asserting success.
    fn docker(&self, node: usize, args: &[&str]) -> String {
        let out = Command::new("docker")
            .arg("-H")
            .arg(&self.engines[node])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "docker {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// The node running `user`'s sandbox and its container there.
    fn container_of(&self, name: &str, user: &str) -> Option<(usize, String)> {
        (0..self.engines.len()).find_map(|node| {
            let filter = format!("label=com.docker.swarm.service.name={name}-{user}");
            let ids = self.docker(node, &["ps", "-q", "--no-trunc", "--filter", &filter]);
            ids.lines().next().map(|id| (node, id.to_owned()))
        })
    }

    /// `serve`'s flags for this Swarm.
    fn serve_args(&self, name: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            "--backend",
            "swarm",
            "--swarm-name",
            name,
            "--limit-memory",
            "256M",
            "--limit-procs",
            "64",
            "--limit-cpus",
            "0.5",
            "--idle-timeout",
            "0",
        ]
        .map(str::to_owned)
        .to_vec();
        for engine in &self.engines {
            args.extend(["--docker-host".to_owned(), engine.clone()]);
        }
        args
    }
}

/// A node's engine the test started again: stopped by its pid at the end (the script stops it
/// too, by its pid file, should the test die first).
struct Engine(std::process::Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The desktop in headless Chromium through the balancer (`web-tests/failover.mjs`): signed
/// in by an invite and Chromium's virtual authenticator, live, a window open.
struct ChromiumPage {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ChromiumPage {
    /// `None` (saying why) where the browser tests' set-up is not here; in the suite it must be.
    fn open(origin: &str, invite: &str) -> Option<Self> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let missing = [
            root.join("web-tests/node_modules/playwright-core"),
            root.join("choir-web/dist/index.html"),
            std::path::PathBuf::from(
                std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            ),
        ]
        .into_iter()
        .find(|path| !path.exists());
        if let Some(missing) = missing {
            assert!(
                std::env::var("CHOIR_SUITE_BUILT").is_err(),
                "the browser part needs {} (the suite makes it)",
                missing.display()
            );
            eprintln!(
                "swarm: the browser part is skipped: no {} (scripts/e2e-web.sh's set-up)",
                missing.display()
            );
            return None;
        }
        let mut child = Command::new("node")
            .arg(root.join("web-tests/failover.mjs"))
            .args([origin, invite])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let mut page = Self { child, lines };
        let live = page.line("live");
        assert!(
            live.trim_start_matches("live ").parse::<u32>().unwrap() >= 1,
            "{live}"
        );
        Some(page)
    }

    /// The next line starting with `wanted` (the script failed if none comes).
    fn line(&mut self, wanted: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(120)) {
                Ok(line) if line.starts_with(wanted) => return line,
                Ok(_) => {}
                Err(_) => {
                    let status = self.child.try_wait().unwrap();
                    panic!("the page never said `{wanted}` (failover.mjs: {status:?}; its stderr is above)");
                }
            }
        }
    }

    fn killed(mut self) -> Self {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"killed\n").unwrap();
        stdin.flush().unwrap();
        self
    }

    /// Waits for the page to have come back live through the other hypervisor, its window
    /// kept and a new one opened.
    fn carried_on(mut self) {
        let said = self.line("carried on");
        eprintln!("swarm: the page in Chromium {said}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "failover.mjs did not end");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "failover.mjs: {status:?}");
    }
}

impl Drop for ChromiumPage {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// OpenSSH's `ssh` to `addr` as `user`, checking the host key against `known_hosts`.
fn openssh(
    dir: &std::path::Path,
    addr: std::net::SocketAddr,
    user: &str,
    command: &str,
) -> std::process::Output {
    Command::new("timeout")
        .args(["60", "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o"])
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-i",
        ])
        .arg(dir.join(user))
        .args(["-p", &addr.port().to_string()])
        .arg(format!("{user}@{}", addr.ip()))
        .arg(command)
        .output()
        .unwrap()
}

/// `script` run in `user`'s sandbox through `addr`, tried again (a new login each time) until
/// it succeeds within `within`: its output.
async fn once_it_works(
    addr: std::net::SocketAddr,
    user: &str,
    key: &russh::keys::PrivateKey,
    script: &str,
    within: Duration,
) -> String {
    let command = format!(
        "choir --exec bash --arg {}",
        shell_words::quote(&format!("cmd={script}"))
    );
    let deadline = Instant::now() + within;
    loop {
        let run = match common::connect(addr, user, key).await {
            Some(session) => Some(common::exec(&session, &command).await),
            None => None,
        };
        if let Some(run) = &run {
            if run.status == Some(0) {
                return run.result()["output"].as_str().unwrap().to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "`{script}` never worked for {user}: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `choir --exec bash --arg cmd=true` as `user` through `addr`, tried again (a new login each
/// time) until it fails saying `wanted`, within `within`: what it said.
async fn once_it_fails_saying(
    addr: std::net::SocketAddr,
    user: &str,
    key: &russh::keys::PrivateKey,
    wanted: &str,
    within: Duration,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        // A login refused while the balancer moves over is tried again too.
        let said = match common::connect(addr, user, key).await {
            Some(session) => {
                let run = common::exec(&session, "choir --exec bash --arg cmd=true").await;
                (run.status != Some(0)).then(|| format!("{}{}", run.out, run.err))
            }
            None => None,
        };
        let said = said.unwrap_or_default();
        if said.contains(wanted) {
            return said;
        }
        assert!(
            Instant::now() < deadline,
            "{user} was never told `{wanted}`: {said}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandboxes_are_swarm_services_that_either_hypervisor_serves_through_a_lost_node_or_host() {
    let Some(swarm) = Swarm::from_env("swarm") else {
        return;
    };
    let Some(pg) = Postgres::start("swarm") else {
        return;
    };
    let name = format!("t{}", std::process::id());
    let web = free_port();
    // Passkeys are bound to a host name.
    let origin = format!("http://localhost:{}", web.port());
    let mut args = swarm.serve_args(&name);
    args.extend(["--http-listen", "127.0.0.1:0", "--origin", &origin].map(str::to_owned));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("CHOIR_HYPERVISOR_DATABASE", pg.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = Hypervisor::start_with_env(&["alice", "bob", "carol", "dave"], &args, &env);
    let second = Hypervisor::start_with_env(&[], &args, &env);
    assert!(
        first.output().contains("a Swarm service per user"),
        "{}",
        first.output()
    );
    let Some(lb) = Haproxy::start(
        "swarm",
        web,
        &[first.addr, second.addr],
        &[first.web().1, second.web().1],
    ) else {
        assert!(
            std::env::var("CHOIR_SUITE_BUILT").is_err(),
            "the suite's set-up installs haproxy"
        );
        return;
    };

    // Through the load balancer, each user works in a sandbox of their own; the first three
    // land on three nodes, the fourth beside the first.
    let mut sessions = HashMap::new();
    for user in ["alice", "bob", "carol", "dave"] {
        let session = common::connect(lb.ssh, user, first.key(user))
            .await
            .unwrap();
        let (out, code) = bash(
            &session,
            &format!(
                "echo kept-{user} > note.txt; id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; \
                 touch /usr/planted 2>&1; hostname"
            ),
        )
        .await;
        assert_eq!(code, 0, "{user}: {out}");
        assert!(out.contains("NoNewPrivs:\t1"), "{user}: {out}");
        assert!(out.contains("CapEff:\t0000000000000000"), "{user}: {out}");
        assert!(out.contains("Read-only file system"), "{user}: {out}");
        assert!(out.trim_end().ends_with(user), "{user}: {out}");
        sessions.insert(user, session);
    }
    let placed: HashMap<&str, (usize, String)> = ["alice", "bob", "carol", "dave"]
        .into_iter()
        .map(|user| (user, swarm.container_of(&name, user).unwrap()))
        .collect();
    let nodes: std::collections::HashSet<usize> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| placed[u].0)
        .collect();
    assert_eq!(nodes.len(), 3, "{placed:?}");
    assert_eq!(placed["dave"].0, placed["alice"].0, "{placed:?}");
    // The service's limits, placement and restart policy are Swarm's.
    let spec = swarm.docker(
        0,
        &[
            "service",
            "inspect",
            &format!("{name}-alice"),
            "--format",
            "{{json .Spec.TaskTemplate}}",
        ],
    );
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(
        spec["Resources"]["Limits"]["MemoryBytes"],
        256 << 20,
        "{spec}"
    );
    assert_eq!(spec["Resources"]["Limits"]["Pids"], 64, "{spec}");
    assert_eq!(spec["RestartPolicy"]["Condition"], "on-failure", "{spec}");
    assert!(
        spec["Placement"]["Constraints"][0]
            .as_str()
            .unwrap()
            .starts_with("node.id=="),
        "{spec}"
    );

    // Dave, beside Alice, tries her daemon at her container's address and at the port her
    // node publishes, the node itself and this host: nothing answers.
    let (alice_node, alice_container) = placed["alice"].clone();
    let alice_ip = swarm
        .docker(
            alice_node,
            &[
                "inspect",
                &alice_container,
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            ],
        )
        .trim()
        .to_owned();
    let alice_port = swarm.docker(alice_node, &["port", &alice_container, "7878"]);
    let alice_port = alice_port
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let host_addr = {
        let addr = &swarm.addrs[0];
        format!("{}.1", addr.rsplit_once('.').unwrap().0)
    };
    // A service of this host on its address in the Swarm's network, which answers the host.
    let (_service, service_at) = common::netns::host_service(&format!("{host_addr}:0"));
    let mut answer = String::new();
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&service_at).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        stream.read_to_string(&mut answer).unwrap();
    }
    assert!(answer.ends_with("host secret"), "{answer}");
    let targets = [
        format!("{alice_ip}:7878"),
        format!("{}:{alice_port}", swarm.addrs[alice_node]),
        service_at,
    ];
    for target in &targets {
        let (out, _) = bash(
            &sessions["dave"],
            &format!("curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{target}/api/activity; echo \" rc=$?\""),
        )
        .await;
        assert!(
            out.contains("000") && !out.contains("rc=0"),
            "dave reached {target}: {out}"
        );
    }

    // Either hypervisor serves any user, in the same sandbox.
    let bob_direct = common::connect(second.addr, "bob", first.key("bob"))
        .await
        .unwrap();
    let (out, code) = bash(&bob_direct, "cat note.txt").await;
    assert_eq!((out.trim(), code), ("kept-bob", 0));
    assert_eq!(swarm.container_of(&name, "bob").unwrap(), placed["bob"]);

    // Bob's daemon is killed: Swarm starts his task again, a new container on the same node,
    // and both hypervisors follow it there, to his data.
    let (bob_node, bob_container) = placed["bob"].clone();
    swarm.docker(bob_node, &["kill", &bob_container]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let restarted = loop {
        match swarm.container_of(&name, "bob") {
            Some((node, container)) if container != bob_container => {
                assert_eq!(node, bob_node);
                break container;
            }
            _ => assert!(
                Instant::now() < deadline,
                "Swarm did not start bob's sandbox again"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Before anyone uses it, the new container has the network policy: Swarm started it on
    // its own, and a hypervisor of this host saw it start.
    let pid = swarm
        .docker(
            bob_node,
            &["inspect", &restarted, "--format", "{{.State.Pid}}"],
        )
        .trim()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .args(["nft", "list", "table", "inet", "choir_sandbox"])
            .output()
            .unwrap();
        if listed.status.success() {
            let rules = String::from_utf8_lossy(&listed.stdout);
            assert!(rules.contains("@blocked4 reject"), "{rules}");
            assert_eq!(rules.matches("ct direction reply").count(), 1, "{rules}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bob's restarted container was not policed: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for hv in [&first, &second] {
        let out = once_it_works(hv.addr, "bob", first.key("bob"), "cat note.txt", WAIT).await;
        assert_eq!(out.trim(), "kept-bob");
    }

    // Carol's node's engine stops: she is told why, the others carry on.
    let (carol_node, _) = placed["carol"];
    assert_ne!(carol_node, 0, "the manager's node is not the one stopped");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(swarm.pids[carol_node]),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let told = once_it_fails_saying(
        lb.ssh,
        "carol",
        first.key("carol"),
        &swarm.addrs[carol_node],
        Duration::from_secs(90),
    )
    .await;
    assert!(told.contains("Swarm node"), "{told}");
    for user in ["alice", "bob", "dave"] {
        let (out, code) = bash(&sessions[user], "cat note.txt").await;
        assert_eq!((out.trim(), code), (format!("kept-{user}").as_str(), 0));
    }

    // Her node's engine comes back, and so does her sandbox, with her data.
    let _engine = Engine(
        Command::new(std::env::var("CHOIR_TEST_SWARM_START").unwrap())
            .arg((carol_node + 1).to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = once_it_works(
        lb.ssh,
        "carol",
        first.key("carol"),
        "cat note.txt",
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(out.trim(), "kept-carol");

    // Bob's node is drained: he is told so; once it is active again, so is his sandbox.
    let bob_node_id = swarm
        .docker(bob_node, &["info", "--format", "{{.Swarm.NodeID}}"])
        .trim()
        .to_owned();
    swarm.docker(
        0,
        &["node", "update", "--availability", "drain", &bob_node_id],
    );
    let told = once_it_fails_saying(
        lb.ssh,
        "bob",
        first.key("bob"),
        "drained",
        Duration::from_secs(60),
    )
    .await;
    assert!(told.contains(&swarm.addrs[bob_node]), "{told}");
    swarm.docker(
        0,
        &["node", "update", "--availability", "active", &bob_node_id],
    );
    let out = once_it_works(
        lb.ssh,
        "bob",
        first.key("bob"),
        "cat note.txt",
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(out.trim(), "kept-bob");

    // A browser signed in through the load balancer (so through the first hypervisor), and
    // an OpenSSH client that knows the host key.
    let mut browser = Browser::new(&origin, web);
    let mut passkey = SoftPasskey::new(true);
    let registered = browser
        .register(&first.invite("alice", &[]), &mut passkey)
        .await;
    assert_eq!(registered.status, 200, "{registered:?}");
    let mut socket = browser.desktop().await;
    frame_of(&mut socket, "welcome").await.unwrap();
    let open =
        json!({ "type": "command", "id": 1, "command": { "type": "window.open", "app": "chat" } });
    socket.send(Message::text(open.to_string())).await.unwrap();
    while frame_of(&mut socket, "ack").await.unwrap()["id"] != 1 {}
    // Where the log stands now, as a new tab sees it.
    let mut tab = browser.desktop().await;
    let head = frame_of(&mut tab, "welcome").await.unwrap()["head"]
        .as_u64()
        .unwrap();
    drop(tab);
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("alice");
    std::fs::write(
        &key_file,
        first
            .key("alice")
            .to_openssh(russh::keys::ssh_key::LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let scan = Command::new("ssh-keyscan")
        .args(["-T", "10", "-p", &lb.ssh.port().to_string(), "127.0.0.1"])
        .output()
        .unwrap();
    std::fs::write(keys.path().join("known_hosts"), &scan.stdout).unwrap();
    let before = openssh(
        keys.path(),
        lb.ssh,
        "alice",
        "choir --exec bash --arg cmd='cat note.txt'",
    );
    assert!(
        String::from_utf8_lossy(&before.stdout).contains("kept-alice"),
        "{before:?}"
    );

    // The first hypervisor dies. Its clients come back through the other, to the same
    // sandbox: same container, same note, and the events the browser had.
    let page = ChromiumPage::open(&origin, &first.invite("alice", &[]));
    first.kill();
    let page = page.map(ChromiumPage::killed);
    assert!(
        frame_of(&mut socket, "never").await.is_err(),
        "the socket to the dead hypervisor ends"
    );
    if let Some(page) = page {
        page.carried_on();
    }
    let after = openssh(
        keys.path(),
        lb.ssh,
        "alice",
        "choir --exec bash --arg cmd='cat note.txt'",
    );
    assert!(
        after.status.success() && String::from_utf8_lossy(&after.stdout).contains("kept-alice"),
        "{after:?}\n{}",
        second.output()
    );
    assert_eq!(swarm.container_of(&name, "alice").unwrap(), placed["alice"]);
    let mut socket = browser.desktop().await;
    let welcome = frame_of(&mut socket, "welcome").await.unwrap();
    assert!(welcome["head"].as_u64().unwrap() >= head, "{welcome}");
    let open =
        json!({ "type": "command", "id": 2, "command": { "type": "window.open", "app": "chat" } });
    socket.send(Message::text(open.to_string())).await.unwrap();
    while frame_of(&mut socket, "ack").await.unwrap()["id"] != 2 {}
}
