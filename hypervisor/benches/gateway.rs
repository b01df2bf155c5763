//! Time to first token through the model gateway against straight to the same provider, and
//! what an idle sandbox costs in memory, on a real `choir-hypervisor serve` (release build,
//! as root: the process backend with a network of its own per sandbox).
//!
//! The provider stand-in, on 127.0.0.1, answers OpenAI's streamed chat completions: it waits
//! a model's thinking time, then sends its first chunk. The same raw HTTP/1.1 client asks it
//! straight (TCP) and through a sandbox's gateway socket (with the sandbox's credential, as
//! its agent does), alternating; time to first token is from connect to the first `data:`.
//! Run with `scripts/bench-gateway.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use choir_test_support::procs::rss_kib;
use support::{ms, percentile, processes_with, ssh_exec, Server};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const RUNS: usize = 40;
const IDLE_SANDBOXES: usize = 8;

/// The stand-in: `delay` before the first chunk, then the rest of a short answer.
async fn provider(delay: Duration) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || async move {
            tokio::time::sleep(delay).await;
            let chunk = |text: &str| {
                format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
                )
            };
            let body = [
                chunk("Hello"),
                chunk(" there"),
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n".into(),
                "data: [DONE]\n\n".into(),
            ]
            .concat();
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from(body))
                .unwrap()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// One streamed request on `stream`; the time from `started` to the first `data:`.
async fn first_token(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    path: &str,
    credential: &str,
    started: Instant,
) -> Duration {
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {credential}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert!(
            n > 0,
            "closed before a token: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(5).any(|w| w == b"data:") {
            let elapsed = started.elapsed();
            assert!(
                seen.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&seen)
            );
            // Read the rest, so that the next run starts clean.
            while stream.read(&mut buf).await.unwrap_or(0) > 0 {}
            return elapsed;
        }
    }
}

/// A sandbox's gateway credential, from its daemon's environment (the bench is root).
fn credential(server: &Server, user: &str) -> String {
    let dir = server.dir.join("sandboxes").join(user);
    let (pid, _) = processes_with("choir-daemon")
        .into_iter()
        .find(|(_, cmdline)| cmdline.contains(&dir.display().to_string()))
        .expect("no daemon");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    String::from_utf8_lossy(&environ)
        .split('\0')
        .find_map(|var| var.strip_prefix("CHOIR_GATEWAY_TOKEN="))
        .expect("no gateway credential")
        .to_owned()
}

async fn compare(label: &str, provider: std::net::SocketAddr, socket: &Path, credential: &str) {
    let (mut direct, mut gateway) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect(provider).await.unwrap();
        direct.push(first_token(tcp, "/v1/chat/completions", "sk-bench", started).await);
        let started = Instant::now();
        let unix = tokio::net::UnixStream::connect(socket).await.unwrap();
        gateway.push(first_token(unix, "/openai/v1/chat/completions", credential, started).await);
    }
    let (d50, g50) = (percentile(&mut direct, 0.5), percentile(&mut gateway, 0.5));
    let (d90, g90) = (percentile(&mut direct, 0.9), percentile(&mut gateway, 0.9));
    println!(
        "- {label}: straight p50 {:.2} ms, p90 {:.2} ms; through the gateway p50 {:.2} ms, p90 {:.2} ms; \
         ratio p50 {:.3}, added p50 {:.2} ms ({RUNS} runs each)",
        ms(d50),
        ms(d90),
        ms(g50),
        ms(g90),
        g50.as_secs_f64() / d50.as_secs_f64(),
        ms(g50) - ms(d50),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let instant = provider(Duration::ZERO).await;
        let thinking = provider(Duration::from_millis(200)).await;
        let mut users: Vec<String> = (0..IDLE_SANDBOXES).map(|i| format!("idle{i}")).collect();
        users.push("alice".into());
        users.push("bob".into());
        let base_url = format!("http://{instant}/v1");
        let server = Server::start_with_env(
            &users,
            &[
                "--uid-range",
                "3910000000-3910000999",
                "--limit-model-requests",
                "100000",
            ],
            &[
                ("OPENAI_API_KEY", "sk-bench"),
                ("OPENAI_BASE_URL", &base_url),
                ("CHOIR_MODEL", "m"),
            ],
        );
        println!(
            "# The model gateway and idle sandboxes ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        for user in &users {
            ssh_exec(
                server.port,
                user,
                &server.key,
                "choir --exec bash --arg cmd=true",
            )
            .await;
        }
        let socket = server.dir.join("sandboxes/alice/gateway.sock");
        let alice = credential(&server, "alice");
        compare("a provider that answers at once", instant, &socket, &alice).await;
        // The second provider is another hypervisor's upstream; a second server with it.
        let bob_server = Server::start_with_env(
            &["carol".to_owned()],
            &[
                "--uid-range",
                "3920000000-3920000999",
                "--limit-model-requests",
                "100000",
            ],
            &[
                ("OPENAI_API_KEY", "sk-bench"),
                ("OPENAI_BASE_URL", &format!("http://{thinking}/v1")),
                ("CHOIR_MODEL", "m"),
            ],
        );
        ssh_exec(
            bob_server.port,
            "carol",
            &bob_server.key,
            "choir --exec bash --arg cmd=true",
        )
        .await;
        let carol = credential(&bob_server, "carol");
        let carol_socket = bob_server.dir.join("sandboxes/carol/gateway.sock");
        compare(
            "a provider that thinks 200 ms before its first token",
            thinking,
            &carol_socket,
            &carol,
        )
        .await;
        drop(bob_server);

        // Idle sandboxes: each one's daemon and its slirp4netns, after a second of rest.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sandboxes = server.dir.join("sandboxes").display().to_string();
        let mut daemons: Vec<u64> = processes_with("choir-daemon")
            .into_iter()
            .filter(|(_, cmdline)| cmdline.contains(&sandboxes))
            .map(|(pid, _)| rss_kib(pid))
            .collect();
        let mut stacks: Vec<u64> = processes_with("slirp4netns")
            .into_iter()
            .filter(|(_, cmdline)| {
                let program = cmdline.split(' ').next().unwrap_or_default();
                program.rsplit('/').next() == Some("slirp4netns")
            })
            .map(|(pid, _)| rss_kib(pid))
            .collect();
        daemons.sort_unstable();
        stacks.sort_unstable();
        let median = |v: &[u64]| v.get(v.len() / 2).copied().unwrap_or(0);
        println!(
            "- an idle sandbox ({} running): daemon RSS median {:.1} MiB (min {:.1}, max {:.1}); \
             slirp4netns RSS median {:.1} MiB ({} running); together {:.1} MiB",
            daemons.len(),
            median(&daemons) as f64 / 1024.0,
            daemons.first().copied().unwrap_or(0) as f64 / 1024.0,
            daemons.last().copied().unwrap_or(0) as f64 / 1024.0,
            median(&stacks) as f64 / 1024.0,
            stacks.len(),
            (median(&daemons) + median(&stacks)) as f64 / 1024.0,
        );
        drop(server);
    });
}
