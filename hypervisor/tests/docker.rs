//! The Docker backend against a real engine (started by scripts/e2e-docker.sh; skipped with
//! the reason printed without one): a user's sandbox is a container with the stated limits,
//! started on first use, restarted after a crash with its data kept, stopped on request and
//! on shutdown; one user cannot reach another's; and an outbound container reaches the
//! internet (a namespace of the test's own) but nothing of this host or its private ranges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::docker::{containers, docker, engines, inspect, start};
use common::netns::{host_service, open, probe, TestNet};
use common::{bash, WAIT};
use russh::ChannelMsg;

/// Opens a desktop over SSH, waits until it is live, sends `keys`, and waits until the screen
/// shows `wanted`; what it shows then.
async fn desktop_after(
    session: &russh::client::Handle<common::Client>,
    keys: &'static [u8],
    wanted: &str,
) -> String {
    let mut channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm-256color", 100, 30, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let mut screen = vt100::Parser::new(
        std::num::NonZeroU16::new(30).unwrap(),
        std::num::NonZeroU16::new(100).unwrap(),
        0,
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut sent = false;
    loop {
        let contents = screen.screen().contents();
        if sent && contents.contains(wanted) {
            return contents;
        }
        if !sent && contents.contains("● live") {
            channel.data_bytes(keys).await.unwrap();
            sent = true;
        }
        match tokio::time::timeout_at(deadline, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => screen.process(&data),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("no {wanted:?} on the desktop:\n{contents}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sandbox_is_a_container_with_its_limits_that_comes_back_after_a_crash() {
    let Some(engines) = engines("docker lifecycle") else {
        return;
    };
    let engine = &engines[0];
    let mut hv = start(
        &["alice"],
        &engines[..1],
        &[
            "--limit-memory",
            "256M",
            "--limit-procs",
            "64",
            "--limit-cpus",
            "0.5",
        ],
    );
    let ssh = hv.connect("alice").await;
    let (out, code) = bash(&ssh, "echo kept > note.txt; id -u; id -g; pwd").await;
    assert_eq!(code, 0, "{out}");
    let ids: Vec<u32> = out.lines().take(2).map(|n| n.parse().unwrap()).collect();
    assert!(hv.uids.contains(&ids[0]) && ids[0] == ids[1], "{out}");

    // The desktop over SSH is drawn inside the container (its daemon's terminal stream) and
    // takes keys: C-a e opens an event log.
    let shown = desktop_after(&ssh, b"\x01e", "1:Event log").await;
    assert!(shown.contains("● live"), "{shown}");

    // The limits and the confinement, as the engine sees them.
    let info = inspect(engine, &hv, "alice").expect("alice's container");
    let host = &info["HostConfig"];
    assert_eq!(host["Memory"], 256 << 20);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 64);
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert!(
        host["SecurityOpt"]
            .to_string()
            .contains("no-new-privileges"),
        "{host}"
    );
    assert_eq!(host["Init"], true);
    assert_eq!(host["NetworkMode"], "none");
    assert_eq!(info["Config"]["User"], format!("{}:{}", ids[0], ids[1]));
    assert_eq!(info["State"]["Running"], true);

    // From inside: a read-only root, a private /tmp, no capabilities, no network.
    let (out, _) = bash(
        &ssh,
        "touch /usr/x 2>&1; echo t > /tmp/t && echo tmp-ok; grep CapEff /proc/self/status; \
         python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 80), 2)' 2>&1 | tail -1",
    )
    .await;
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("tmp-ok"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(
        out.contains("Network is unreachable") || out.contains("OSError"),
        "{out}"
    );

    // What a terminal user reaches for is in the image (scripts/sandbox-packages.txt), and runs.
    let (out, code) = bash(
        &ssh,
        "for t in awk curl hostname vi nano htop less ssh make git python3; do \
           command -v $t >/dev/null || echo missing $t; done; \
         echo 'one two' | awk '{print $2}'; curl --version | head -1; htop --version | head -1; \
         vi --version | head -1; make --version | head -1; hostname; \
         whoami; ssh -G example.invalid | grep '^user '",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("missing"), "{out}");
    // The sandbox's uid has a name (the container writes its passwd entry when it starts):
    // whoami answers, and ssh, which refuses to run for a uid without one, reads its config
    // (-G connects nowhere).
    for shown in [
        "two\n",
        "curl ",
        "htop ",
        "VIM - Vi IMproved",
        "GNU Make",
        "\nalice\n",
        "user alice\n",
    ] {
        assert!(out.contains(shown), "{shown:?} not in:\n{out}");
    }

    // A crash: the next use starts it again (a new container), the data kept in its volume.
    let first = info["Id"].clone();
    docker(
        engine,
        &[
            "kill",
            "-s",
            "KILL",
            &common::docker::container(&hv, "alice"),
        ],
    );
    let mut back = None;
    for _ in 0..60 {
        let ssh = hv.connect("alice").await;
        let (out, code) = bash(&ssh, "cat note.txt").await;
        if code == 0 {
            back = Some(out);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(back.as_deref(), Some("kept\n"));
    assert_ne!(
        inspect(engine, &hv, "alice").unwrap()["Id"],
        first,
        "a new container"
    );

    // Stopped on request: the container goes, the volume stays.
    assert!(hv.run(&["sandbox", "stop", "alice"]).status.success());
    assert!(
        containers(engine, &hv).is_empty(),
        "{:?}",
        containers(engine, &hv)
    );
    let ssh = hv.connect("alice").await;
    assert_eq!(bash(&ssh, "cat note.txt").await.0, "kept\n");
    let list = hv.sandbox("alice");
    assert_eq!(list["state"], "running", "{list}");

    // Shutdown stops every container.
    assert!(hv.terminate(WAIT).success());
    assert!(containers(engine, &hv).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_users_container_cannot_reach_another_users() {
    let Some(engines) = engines("docker isolation") else {
        return;
    };
    let engine = &engines[0];
    let hv = start(&["alice", "bob"], &engines[..1], &[]);
    let bob = hv.connect("bob").await;
    assert_eq!(bash(&bob, "echo bob-secret > secret.txt").await.1, 0);
    let volume = common::docker::container(&hv, "bob");
    let mountpoint = docker(
        engine,
        &["volume", "inspect", "-f", "{{.Mountpoint}}", &volume],
    );
    let endpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(mountpoint.trim()).join("daemon.json"))
            .unwrap(),
    )
    .unwrap();
    let token = endpoint["token"].as_str().unwrap().to_owned();

    let bob_started = inspect(engine, &hv, "bob").unwrap()["State"]["StartedAt"].clone();
    let alice = hv.connect("alice").await;
    // The process backend's roads (tests/isolation.rs), with the paths Bob's data and the
    // hypervisor's state have on this host: none of them exists inside Alice's container.
    let b = mountpoint.trim();
    let bob_pid = hv.sandbox("bob")["pid"].as_u64().unwrap();
    let s = hv.state_dir().display().to_string();
    let roads = [
        ("read Bob's secret", format!("cat {b}/workspace/secret.txt")),
        ("read through a relative path", "cat ../../bob/workspace/secret.txt".to_owned()),
        ("read Bob's token", format!("cat {b}/daemon.json")),
        ("read Bob's event log", format!("head -c 4096 {b}/events.db")),
        ("list Bob's volume", format!("ls {b}")),
        ("read Bob's daemon's environment", format!("cat /proc/{bob_pid}/environ")),
        ("signal Bob's daemon", format!("kill -TERM {bob_pid}")),
        ("write into Bob's volume", format!("echo pwned > {b}/workspace/pwned")),
        ("read the host key", format!("cat {s}/ssh_host_ed25519_key")),
        ("read the users database", format!("cat {s}/users.db")),
        ("reach the control socket", format!("python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"{s}/control.sock\")'")),
        ("connect to Bob's daemon", format!("python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"{b}/daemon.sock\")'")),
        ("reach the Docker engine", "python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"/var/run/docker.sock\")'".to_owned()),
        ("write the image", "echo x > /usr/local/bin/choir-daemon".to_owned()),
        ("become root", "su -c id root </dev/null".to_owned()),
    ];
    for (what, script) in &roads {
        let (output, code) = bash(&alice, script).await;
        assert_ne!(code, 0, "{what}: `{script}` succeeded:\n{output}");
        assert!(
            !output.contains("bob-secret") && !output.contains(&token),
            "{what}: {output}"
        );
    }
    let tries = [
        "choir --exec read_file --arg path=../../bob/workspace/secret.txt".to_owned(),
        format!("choir --exec read_file --arg path={b}/workspace/secret.txt"),
        format!("choir --url unix:{b}/daemon.sock --token {token} status"),
    ];
    for command in &tries {
        let run = common::exec(&alice, command).await;
        assert_ne!(run.status, Some(0), "`{command}` succeeded: {run:?}");
        assert!(
            !run.out.contains("bob-secret"),
            "`{command}` leaked: {run:?}"
        );
    }
    let script = format!(
        "ls /data/.. ; cat /data/../*/secret.txt; grep -rs bob-secret / --exclude-dir=proc --exclude-dir=sys | head -3; \
         grep -rls {token} /proc/*/environ /data /tmp 2>/dev/null | head -3; ps -e -o pid,user,comm | wc -l; \
         echo done"
    );
    let (out, _) = bash(&alice, &script).await;
    assert!(out.contains("done"), "{out}");
    // Alice kills everything she can: her own sandbox only.
    let _ = common::exec(&alice, "choir --exec bash --arg 'cmd=kill -9 -1'").await;
    assert!(!out.contains("bob-secret"), "{out}");
    assert!(!out.contains(&token), "{out}");
    // Bob's sandbox did not notice: the same container, never restarted.
    let bob = hv.connect("bob").await;
    assert_eq!(bash(&bob, "cat secret.txt").await.0, "bob-secret\n");
    let after = inspect(engine, &hv, "bob").unwrap();
    assert_eq!(after["State"]["StartedAt"], bob_started);
    assert_eq!(after["RestartCount"], 0);
    assert_ne!(
        inspect(engine, &hv, "alice").unwrap()["Config"]["User"],
        inspect(engine, &hv, "bob").unwrap()["Config"]["User"],
        "a uid each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_is_built_in_a_container_that_cannot_change_the_lent_toolchain() {
    let Some(engines) = engines("docker app build") else {
        return;
    };
    let args = common::app_build_args();
    let rust = std::path::PathBuf::from(&args[1]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let hv = start(&["alice"], &engines[..1], &args);
    let alice = hv.connect("alice").await;
    common::build_and_show_an_app(&alice, "hello").await;
    common::lent_toolchain_holds(&alice, &rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_sandbox_is_stopped_and_its_container_removed() {
    let Some(engines) = engines("docker idle stop") else {
        return;
    };
    let engine = &engines[0];
    let hv = start(&["alice"], &engines[..1], &["--idle-timeout", "2s"]);
    let ssh = hv.connect("alice").await;
    assert_eq!(bash(&ssh, "echo hi").await.1, 0);
    drop(ssh);
    assert_eq!(containers(engine, &hv).len(), 1);
    let stopped = hv.wait_for_state("alice", "stopped", Duration::from_secs(30));
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    assert!(
        containers(engine, &hv).is_empty(),
        "{:?}",
        containers(engine, &hv)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandboxes_on_the_outbound_network_cannot_reach_each_other() {
    let Some(engines) = engines("docker network isolation") else {
        return;
    };
    if std::env::var("CHOIR_TEST_DOCKER_ICC").as_deref() != Ok("1") {
        eprintln!("docker network isolation: skipped: the test engine runs without iptables here");
        return;
    }
    let engine = &engines[0];
    let hv = common::Hypervisor::start(
        &["alice", "bob"],
        &["--backend", "docker", "--docker-host", engine],
    );
    let bob = hv.connect("bob").await;
    assert_eq!(bash(&bob, "echo up").await.1, 0);
    let ip = docker(
        engine,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &common::docker::container(&hv, "bob"),
        ],
    );
    let ip = ip.trim();
    assert!(
        !ip.is_empty(),
        "bob's container has an address on the sandbox network"
    );
    let alice = hv.connect("alice").await;
    // A closed port answers "refused" when packets get through; dropped by the engine they
    // time out, and rejected by the sandbox's own policy (a private address) they never leave.
    let probe = format!(
        "python3 -c 'import socket; socket.create_connection((\"{ip}\", 9), 3)' 2>&1 | tail -1"
    );
    let (out, _) = bash(&alice, &probe).await;
    assert!(
        out.contains("timed out") || out.contains("No route to host"),
        "alice reached bob's container: {out}"
    );
    let info = inspect(engine, &hv, "alice").unwrap();
    assert_ne!(info["HostConfig"]["NetworkMode"], "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_reached_over_tcp_serves_sandboxes_through_a_published_port() {
    let Some(engines) = engines("docker engine over tcp") else {
        return;
    };
    let Ok(tcp) = std::env::var("CHOIR_TEST_DOCKER_TCP") else {
        eprintln!("docker engine over tcp: skipped: no engine answers on TCP");
        return;
    };
    let hv = common::Hypervisor::start(&["alice"], &["--backend", "docker", "--docker-host", &tcp]);
    let alice = hv.connect("alice").await;
    let (out, code) = bash(&alice, "echo over-tcp > note.txt; cat note.txt").await;
    assert_eq!((out.as_str(), code), ("over-tcp\n", 0));
    // The daemon's port is published on the engine's address only, and wants the token.
    let info = inspect(&engines[0], &hv, "alice").unwrap();
    let binding = &info["NetworkSettings"]["Ports"]["7878/tcp"][0];
    assert_eq!(binding["HostIp"], "127.0.0.1", "{binding}");
    let port = binding["HostPort"].as_str().unwrap();
    let refused = reqwest::get(format!("http://127.0.0.1:{port}/api/state"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Her desktop over SSH, drawn in the container on a daemon that listens on TCP.
    let shown = desktop_after(&alice, b"\x01c", "1:Chat").await;
    assert!(shown.contains("● live"), "{shown}");
    // And the volume is still Alice's alone.
    let (out, _) = bash(&alice, "stat -c '%u %a' /data").await;
    let uid = info["Config"]["User"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(out.trim(), format!("{uid} 700"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outbound_container_reaches_the_internet_and_nothing_of_this_host() {
    let Some(engines) = engines("docker network policy") else {
        return;
    };
    // Forwarding from the bridge to the test's own "internet" needs the engine's iptables.
    if std::env::var("CHOIR_TEST_DOCKER_ICC").as_deref() != Ok("1") {
        eprintln!("docker network policy: skipped: the test engine runs without iptables here");
        return;
    }
    let Some(net) = TestNet::new() else { return };
    let (_service, own) = host_service(&format!("{}:0", net.host));
    let (_everywhere, everywhere) = host_service("0.0.0.0:0");
    let everywhere_port = everywhere.rsplit(':').next().unwrap().to_owned();
    let engine = &engines[0];
    let hv = common::Hypervisor::start(
        &["alice"],
        &["--backend", "docker", "--docker-host", engine],
    );
    let alice = hv.connect("alice").await;
    assert_eq!(bash(&alice, "echo up").await.1, 0);
    // The bridge's gateway: this host's address on the sandbox network.
    let gateway = docker(
        engine,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}",
            &common::docker::container(&hv, "alice"),
        ],
    );
    let gateway = format!("{}:{everywhere_port}", gateway.trim());
    let public = format!("{}:{}", net.public, net.port);
    let refused = [
        own.clone(),
        gateway.clone(),
        format!("{}:{}", net.private, net.port),
        format!("{}:{}", net.link_local, net.port),
    ];
    let targets: Vec<String> = std::iter::once(public.clone())
        .chain(refused.iter().cloned())
        .collect();
    let (output, _) = bash(&alice, &probe(&targets)).await;
    assert!(
        open(&output, &public),
        "the internet is out of reach:\n{output}"
    );
    for target in &refused {
        assert!(!open(&output, target), "{target} was reached:\n{output}");
    }
    assert!(!output.contains("host secret"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_reaches_the_model_through_the_gateway_and_never_sees_the_key() {
    let Some(engines) = engines("docker model gateway") else {
        return;
    };
    let provider = common::provider::Provider::start().await;
    let base_url = provider.openai_url();
    // No network at all: the gateway's socket is in the sandbox's volume.
    let hv = common::Hypervisor::start_with_env(
        &["alice"],
        &[
            "--backend",
            "docker",
            "--docker-network",
            "none",
            "--docker-host",
            &engines[0],
        ],
        &[
            ("CHOIR_MODEL", "gpt-test"),
            ("OPENAI_API_KEY", "sk-operator-docker-5e1d"),
            ("OPENAI_BASE_URL", &base_url),
        ],
    );
    let alice = hv.connect("alice").await;
    let body = r#"{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let (output, code) = bash(
        &alice,
        &format!(
            "{}\nenv; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'\n\
             python3 gw.py $CHOIR_GATEWAY POST /openai/v1/chat/completions $CHOIR_GATEWAY_TOKEN '{body}'",
            common::provider::CLIENT
        ),
    )
    .await;
    assert_eq!(code, 0, "{output}");
    assert!(
        !output.contains("sk-"),
        "the key is in the container:\n{output}"
    );
    assert!(output.contains("CHOIR_GATEWAY_TOKEN=chg_"), "{output}");
    assert!(
        output.contains(common::provider::ANSWER),
        "no answer through the gateway:\n{output}"
    );
    let seen = provider.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].headers["authorization"],
        "Bearer sk-operator-docker-5e1d"
    );
    let listed = hv.sandbox("alice");
    assert_eq!(listed["model_requests"], 1, "{listed}");
}
