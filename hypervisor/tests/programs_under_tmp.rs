//! A hypervisor whose binaries live under a directory that sandboxes get an empty one of
//! their own in place of (`/tmp` here, as a build in a fresh clone there has them): the
//! sandbox still runs its program (taken by the descriptor opened before the namespaces),
//! and the covered directory is still empty for it. (Needs root, as CI runs: elsewhere it
//! says so.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bash, needs_root, Hypervisor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_runs_programs_installed_under_a_covered_directory() {
    if needs_root("a_sandbox_runs_programs_installed_under_a_covered_directory") {
        return;
    }
    let bins = tempfile::Builder::new()
        .prefix("choir-bins-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        bins.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    common::use_programs_from(bins.path());
    let hv = Hypervisor::start(&["alice"], &[]);
    let alice = hv.connect("alice").await;
    let (output, code) = bash(
        &alice,
        &format!("echo up; ls {} 2>&1 | head -1", bins.path().display()),
    )
    .await;
    assert_eq!(code, 0, "{output}");
    assert!(output.starts_with("up\n"), "{output}");
    assert!(
        !output.contains("choir-daemon"),
        "the host's /tmp shows in the sandbox: {output}"
    );
}
