//! Apps built inside a hosted sandbox: the hypervisor lends the host's Rust toolchain and a
//! copy of the apps' crates to each sandbox, read-only, and `choir app build` then works there
//! under the sandbox's uid, limits and Landlock rules, offline. A hostile user tries to
//! change what every sandbox builds with, and to reach the toolchain where the host keeps it.
//!
//! The sandboxes get uids and mounts of their own only when the hypervisor runs as root, as
//! CI does; elsewhere these tests say so and do nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{app_build_args, build_and_show_an_app, lent_toolchain_holds, needs_root, Hypervisor};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_is_built_and_run_in_a_confined_sandbox_that_cannot_change_the_lent_toolchain() {
    if needs_root(
        "an_app_is_built_and_run_in_a_confined_sandbox_that_cannot_change_the_lent_toolchain",
    ) {
        return;
    }
    let args = app_build_args();
    let rust = std::path::PathBuf::from(&args[1]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let hv = Hypervisor::start(&["alice"], &args);
    let said = format!(
        "apps are built with the Rust toolchain at {}",
        rust.display()
    );
    assert!(hv.output().contains(&said), "{}", hv.output());

    let alice = hv.connect("alice").await;
    build_and_show_an_app(&alice, "hello").await;
    // Under the sandbox's own uid, in its data dir; cargo's files there too.
    let data = hv.sandbox_dir("alice");
    assert!(data.join("apps/target/wasm32-unknown-unknown").is_dir());
    assert!(data.join("apps/cargo").is_dir());

    lent_toolchain_holds(&alice, &rust).await;
}
