//! The Docker engines `scripts/e2e-docker.sh` starts for the Docker backend's tests, and the
//! `docker` command line to look at what the hypervisor made there.

use std::process::Command;

use serde_json::Value;

use super::Hypervisor;

/// The engines to test against, or `None` (and why, printed) when there are none.
pub fn engines(test: &str) -> Option<Vec<String>> {
    match std::env::var("CHOIR_TEST_DOCKER_HOSTS") {
        Ok(hosts) if !hosts.is_empty() => Some(hosts.split(',').map(str::to_owned).collect()),
        _ => {
            eprintln!("{test}: skipped: no Docker engines (scripts/e2e-docker.sh starts two and runs this)");
            None
        }
    }
}

/// The pids of the engines' `dockerd`, in the order of [`engines`].
pub fn engine_pids() -> Vec<i32> {
    std::env::var("CHOIR_TEST_DOCKER_PIDS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// A hypervisor with the Docker backend on `engines`, no network for sandboxes.
pub fn start(users: &[&str], engines: &[String], args: &[&str]) -> Hypervisor {
    let mut all: Vec<&str> = vec!["--backend", "docker", "--docker-network", "none"];
    for engine in engines {
        all.extend(["--docker-host", engine]);
    }
    all.extend(args);
    Hypervisor::start(users, &all)
}

/// `docker -H ENGINE ARGS`: stdout, asserting success.
pub fn docker(engine: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("-H")
        .arg(engine)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The container name of `user`'s sandbox under `hv`.
pub fn container(hv: &Hypervisor, user: &str) -> String {
    format!(
        "choir-{}-{user}",
        hypervisor::sandbox::instance_name(hv.dir.path())
    )
}

/// `docker inspect` of the user's container, if it exists on `engine`.
pub fn inspect(engine: &str, hv: &Hypervisor, user: &str) -> Option<Value> {
    let out = Command::new("docker")
        .arg("-H")
        .arg(engine)
        .args(["inspect", &container(hv, user)])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all.get(0).cloned()
}

/// Containers of `hv` on `engine` (running or not).
pub fn containers(engine: &str, hv: &Hypervisor) -> Vec<String> {
    let filter = format!(
        "label=org.choiros.instance={}",
        hypervisor::sandbox::instance_name(hv.dir.path())
    );
    docker(
        engine,
        &["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}
