//! Sandboxes on a Docker Swarm, and clients through a load balancer and a second hypervisor,
//! each against its baseline in the same run (release binaries):
//!
//! - cold start: the first `ssh user@host choir --exec bash --arg cmd=true` of a user whose
//!   sandbox never ran, timed from the TCP connect to the exit status: a Swarm service
//!   (volume, service, task scheduled and started, network policy, daemon ready) against a
//!   container of the docker backend on one of the same engines, alternating;
//! - exec: the same command for a running Swarm sandbox, straight to the hypervisor that
//!   started it against through HAProxy to the other hypervisor (which follows the same task);
//! - web: a command's round trip over the desktop's WebSocket (`window.move`, its `ack`),
//!   straight to the first hypervisor against through HAProxy and the second.
//!
//! Run with `scripts/e2e-swarm.sh --bench` (as root): it makes the Swarm (three engines in
//! network namespaces, the image on each); this starts PostgreSQL, the hypervisors and
//! HAProxy, and stops them by their pids.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[allow(dead_code)]
#[path = "../tests/common/haproxy.rs"]
mod haproxy;
#[allow(dead_code)]
#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::net::SocketAddr;
use std::time::Duration;

use support::web::{open_window, round_trip, sign_in, socket_at};
use support::{ms, percentile, ssh_exec, Server};

const COLD_USERS: usize = 6;
const WARM_RUNS: usize = 40;
const ROUND_TRIPS: usize = 300;
/// How long the helpers it shares with the tests wait for a server.
const WAIT: Duration = Duration::from_secs(30);

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn line(
    what: &str,
    base: &str,
    mut baseline: Vec<Duration>,
    measured: &str,
    mut samples: Vec<Duration>,
) {
    let (b50, b90, b99) = (
        percentile(&mut baseline, 0.5),
        percentile(&mut baseline, 0.9),
        percentile(&mut baseline, 0.99),
    );
    let (m50, m90, m99) = (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.9),
        percentile(&mut samples, 0.99),
    );
    println!(
        "| {what} | {base} {:.1} / {:.1} / {:.1} ms | {measured} {:.1} / {:.1} / {:.1} ms | {:.2} | {:.2} | {} each |",
        ms(b50),
        ms(b90),
        ms(b99),
        ms(m50),
        ms(m90),
        ms(m99),
        ms(m50) / ms(b50),
        ms(m99) / ms(b99),
        samples.len()
    );
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn main() {
    let engines: Vec<String> = std::env::var("CHOIR_TEST_SWARM_HOSTS")
        .expect("CHOIR_TEST_SWARM_HOSTS: run scripts/e2e-swarm.sh --bench")
        .split(',')
        .map(str::to_owned)
        .collect();
    let pg = postgres::Postgres::start("swarm bench").expect("needs root and PostgreSQL");
    let database = pg.url();
    let swarm_users: Vec<String> = (0..COLD_USERS).map(|n| format!("swarm{n}")).collect();
    let docker_users: Vec<String> = (0..COLD_USERS).map(|n| format!("docker{n}")).collect();
    let mut users = swarm_users.clone();
    users.extend(["warm".to_owned(), "alice".to_owned()]);

    let web = haproxy::free_port();
    let origin = format!("http://localhost:{}", web.port());
    let name = format!("bench{}", std::process::id());
    let mut args = vec![
        "--backend",
        "swarm",
        "--swarm-name",
        &name,
        "--uid-range",
        "1920000000-1920000999",
        "--idle-timeout",
        "0",
        "--http-listen",
        "127.0.0.1:0",
        "--origin",
        &origin,
    ];
    for engine in &engines {
        args.extend(["--docker-host", engine]);
    }
    let env = [("CHOIR_HYPERVISOR_DATABASE", database.as_str())];
    let first = Server::start_with_env(&users, &args, &env);
    let second = Server::start_with_env(&users, &args, &env);
    let docker = Server::start(
        &docker_users,
        &[
            "--backend",
            "docker",
            "--docker-host",
            &engines[0],
            "--uid-range",
            "1930000000-1930000999",
            "--idle-timeout",
            "0",
        ],
    );
    // Only the second behind the balancer: every client there goes through it.
    let lb = haproxy::Haproxy::start(
        "swarm bench",
        web,
        &[local(second.port)],
        &[second.web.clone().unwrap().1],
    )
    .expect("haproxy");

    let exec = "choir --exec bash --arg cmd=true";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# Swarm sandboxes and a second hypervisor behind HAProxy ({} cores)\n",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("| | baseline p50 / p90 / p99 | measured p50 / p90 / p99 | ratio p50 | ratio p99 | runs |");
        println!("| --- | --- | --- | --- | --- | --- |");
        let (mut cold_docker, mut cold_swarm) = (Vec::new(), Vec::new());
        for (swarm_user, docker_user) in swarm_users.iter().zip(&docker_users) {
            cold_docker.push(ssh_exec(docker.port, docker_user, &docker.key, exec).await);
            cold_swarm.push(ssh_exec(first.port, swarm_user, &first.key, exec).await);
        }
        line("cold start", "docker", cold_docker, "swarm", cold_swarm);

        ssh_exec(first.port, "warm", &first.key, exec).await;
        let (mut straight, mut through) = (Vec::new(), Vec::new());
        for _ in 0..WARM_RUNS {
            straight.push(ssh_exec(first.port, "warm", &first.key, exec).await);
            through.push(ssh_exec(lb.ssh.port(), "warm", &second.key, exec).await);
        }
        line(
            "exec, sandbox running",
            "straight",
            straight,
            "HAProxy + 2nd",
            through,
        );

        let http = reqwest::Client::new();
        let (_, first_web) = first.web.clone().unwrap();
        let cookie = sign_in(&first, &http, &origin, first_web).await;
        let mut straight_socket = socket_at(first_web, &origin, &cookie).await;
        let mut through_socket = socket_at(lb.web, &origin, &cookie).await;
        let window = open_window(&mut straight_socket).await;
        let (mut straight, mut through) = (Vec::new(), Vec::new());
        for n in 0..ROUND_TRIPS + 40 {
            let id = 2 * n as u64 + 1;
            let a = round_trip(&mut straight_socket, id, &window).await;
            let b = round_trip(&mut through_socket, id + 1, &window).await;
            if n >= 40 {
                straight.push(a);
                through.push(b);
            }
        }
        line(
            "web round trip (window.move → ack)",
            "straight",
            straight,
            "HAProxy + 2nd",
            through,
        );
    });
    // The services stay for the other hypervisors: remove them (their volumes go with the
    // engines the script stops).
    for user in &users {
        let _ = std::process::Command::new("docker")
            .args([
                "-H",
                &engines[0],
                "service",
                "rm",
                &format!("{name}-{user}"),
            ])
            .output();
    }
}
