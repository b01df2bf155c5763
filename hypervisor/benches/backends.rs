//! The two sandbox backends side by side in one run: `process` (a confined process per user)
//! and `docker` (a container per user, the image already on the engine), each behind a real
//! `choir-hypervisor serve`, timed the same way: `ssh user@host choir --exec bash --arg
//! cmd=true` from the TCP connect to the exit status.
//!
//! - cold: the first exec of a user whose sandbox never ran (for docker: volume, container,
//!   start, daemon ready), alternating between the backends;
//! - warm: the same command against a running sandbox;
//! - memory: what `sandbox list` reports per idle sandbox (the process backend's cgroup, the
//!   container's memory usage as the engine counts it).
//!
//! Run with scripts/bench-docker.sh, which starts a Docker engine and imports the image.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{ms, percentile, ssh_exec, Server};

const COLD_USERS: usize = 8;
const WARM_RUNS: usize = 40;

fn idle_memory(server: &Server) -> (f64, usize) {
    let out = Command::new(server.bins.join("choir-hypervisor"))
        .arg("--data-dir")
        .arg(&server.dir)
        .args(["sandbox", "list", "--json"])
        .output()
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let memory: Vec<f64> = reply["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|sandbox| sandbox["state"] == "running")
        .filter_map(|sandbox| sandbox["memory_bytes"].as_f64())
        .collect();
    let mean = memory.iter().sum::<f64>() / memory.len().max(1) as f64;
    (mean / (1024.0 * 1024.0), memory.len())
}

fn main() {
    let engine =
        std::env::var("BENCH_DOCKER_HOST").expect("BENCH_DOCKER_HOST: run scripts/bench-docker.sh");
    let mut users: Vec<String> = (0..COLD_USERS).map(|i| format!("user{i:02}")).collect();
    users.push("warm".into());
    let process = Server::start(&users, &["--uid-range", "1900000000-1900000999"]);
    let docker = Server::start(
        &users,
        &[
            "--uid-range",
            "1910000000-1910000999",
            "--backend",
            "docker",
            "--docker-host",
            &engine,
            "--docker-network",
            "none",
        ],
    );
    users.pop();
    let exec = "choir --exec bash --arg cmd=true";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# sandbox backends, process vs docker ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let (mut cold_process, mut cold_docker) = (Vec::new(), Vec::new());
        for user in &users {
            cold_process.push(ssh_exec(process.port, user, &process.key, exec).await);
            cold_docker.push(ssh_exec(docker.port, user, &docker.key, exec).await);
        }
        ssh_exec(process.port, "warm", &process.key, exec).await;
        ssh_exec(docker.port, "warm", &docker.key, exec).await;
        let (mut warm_process, mut warm_docker) = (Vec::new(), Vec::new());
        for _ in 0..WARM_RUNS {
            warm_process.push(ssh_exec(process.port, "warm", &process.key, exec).await);
            warm_docker.push(ssh_exec(docker.port, "warm", &docker.key, exec).await);
        }
        for (label, runs, process_runs, docker_runs) in [
            ("cold start (first exec of a new user)", COLD_USERS, &mut cold_process, &mut cold_docker),
            ("warm exec (sandbox running)", WARM_RUNS, &mut warm_process, &mut warm_docker),
        ] {
            let (p50, p90) = (percentile(process_runs, 0.5), percentile(process_runs, 0.9));
            let (d50, d90) = (percentile(docker_runs, 0.5), percentile(docker_runs, 0.9));
            println!(
                "- {label}: process p50 {:.1} ms, p90 {:.1} ms; docker p50 {:.1} ms, p90 {:.1} ms; ratio docker/process p50 {:.2} ({runs} runs each)",
                ms(p50),
                ms(p90),
                ms(d50),
                ms(d90),
                d50.as_secs_f64() / p50.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let (process_mib, n) = idle_memory(&process);
    let (docker_mib, m) = idle_memory(&docker);
    println!(
        "- memory per idle sandbox: process {process_mib:.1} MiB ({n} sandboxes), docker {docker_mib:.1} MiB ({m} sandboxes)"
    );
}
