//! `choir-hypervisor serve` refuses flags and settings it cannot honour, at once and saying
//! which, rather than starting a host that is less safe than it was told to be.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `serve ARGS` with `env`; its exit status and what it printed on stderr. A server that
/// does not stop by itself within 10 s is killed, and that is a failure.
fn serve(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::program("choir-hypervisor"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--ssh-listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CHOIR_PROVIDER")
        .env_remove("CHOIR_MODEL")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Flags, environment, and what the refusal must say.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn serve_refuses_what_it_cannot_honour_and_says_which() {
    let cases: [Case; 6] = [
        (
            &["--limit-held", "1M"],
            &[],
            "--limit-held must be at least 16M",
        ),
        (
            &["--allow-net", "10.0.0.0/33"],
            &[],
            "is not an address range",
        ),
        (
            &["--allow-net", "everything"],
            &[],
            "is not an address range",
        ),
        (&["--sandbox-network", "some"], &[], "some"),
        (
            &["--limit-unauthenticated", "0"],
            &[],
            "--limit-unauthenticated",
        ),
        (
            &[],
            &[
                ("CHOIR_PROVIDER", "anthropic"),
                ("CHOIR_MODEL", "claude"),
                ("OPENAI_API_KEY", "sk-test"),
            ],
            "neither ANTHROPIC_API_KEY nor ANTHROPIC_BASE_URL is set",
        ),
    ];
    for (args, env, says) in cases {
        let (started, stderr) = serve(args, env);
        assert!(!started, "{args:?} {env:?}: exited successfully");
        assert!(stderr.contains(says), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
