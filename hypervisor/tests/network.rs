//! A sandbox's network, attacked from inside it (process backend, as root): it reaches a host
//! on the internet, and not this host (its loopback, its own addresses, slirp4netns's way to
//! it), a private service, a link-local (metadata-like) one or another sandbox; it cannot
//! lift the rules; an operator's `--allow-net` range is let through and `--sandbox-network
//! none` lets nothing out. Every address tried is on this machine: loopback, or a namespace
//! this test made (`common::netns`), so no packet leaves it whatever the outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::netns::{host_service, open, probe, TestNet};
use common::{bash, needs_root, Hypervisor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_reaches_the_internet_and_nothing_of_the_host_or_the_private_networks() {
    if needs_root("a_sandbox_reaches_the_internet_and_nothing_of_the_host_or_the_private_networks")
    {
        return;
    }
    let Some(net) = TestNet::new() else { return };
    let (_loopback, loopback) = host_service("127.0.0.1:0");
    let (_own, own) = host_service(&format!("{}:0", net.host));
    let port = net.port;
    let public = format!("{}:{port}", net.public);
    let private = format!("{}:{port}", net.private);
    let link_local = format!("{}:{port}", net.link_local);
    let loopback_port = loopback.rsplit(':').next().unwrap();
    // slirp4netns's gateway, which leads to this host's loopback unless told not to.
    let gateway = format!("10.0.2.2:{loopback_port}");
    let targets = [
        public.clone(),
        loopback.clone(),
        own.clone(),
        private.clone(),
        link_local.clone(),
        gateway.clone(),
    ];

    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    let alice = hv.connect("alice").await;
    // Bob serves something in his sandbox, on every address he has.
    let bob = hv.connect("bob").await;
    let bob_port = port + 1;
    let (_, code) = bash(
        &bob,
        &format!(
            "(setsid python3 -m http.server {bob_port} --bind 0.0.0.0 >/dev/null 2>&1 &) ; sleep 1"
        ),
    )
    .await;
    assert_eq!(code, 0);

    let (output, _) = bash(&alice, &probe(&targets)).await;
    assert!(
        open(&output, &public),
        "the internet is out of reach:\n{output}"
    );
    for refused in [&loopback, &own, &private, &link_local, &gateway] {
        assert!(!open(&output, refused), "{refused} was reached:\n{output}");
    }
    assert!(!output.contains("host secret"), "{output}");
    // Bob's server: by his address (the same slirp address as Alice's own) and by loopback.
    let (output, _) = bash(
        &alice,
        &probe(&[
            format!("10.0.2.100:{bob_port}"),
            format!("127.0.0.1:{bob_port}"),
        ]),
    )
    .await;
    assert!(
        !output.contains(" open"),
        "Bob's server was reached:\n{output}"
    );

    // The rules and the network cannot be changed from inside.
    for attempt in [
        "nft flush ruleset",
        "ip link set tap0 down",
        "ip route add 10.0.0.0/8 dev tap0",
        "unshare -n true",
        "unshare -Urn true",
    ] {
        let (output, code) = bash(&alice, attempt).await;
        assert_ne!(code, 0, "`{attempt}` succeeded:\n{output}");
    }
    let (output, _) = bash(&alice, &probe(&[public.clone(), private.clone()])).await;
    assert!(open(&output, &public), "{output}");
    assert!(!open(&output, &private), "{output}");
    drop(hv);

    // An operator's range is let through, and only that.
    let allowed = format!("{}/24", net.private);
    let hv = Hypervisor::start(&["alice"], &["--allow-net", &allowed]);
    let alice = hv.connect("alice").await;
    let (output, _) = bash(&alice, &probe(&targets)).await;
    assert!(
        open(&output, &private),
        "the allowed range is out of reach:\n{output}"
    );
    assert!(open(&output, &public), "{output}");
    for refused in [&loopback, &own, &link_local, &gateway] {
        assert!(!open(&output, refused), "{refused} was reached:\n{output}");
    }
    drop(hv);

    // No network: nothing goes out.
    let hv = Hypervisor::start(&["alice"], &["--sandbox-network", "none"]);
    let alice = hv.connect("alice").await;
    let (output, _) = bash(&alice, &probe(&targets)).await;
    assert!(!output.contains(" open"), "{output}");
    assert!(output.contains(&format!("{public} closed")), "{output}");
}
