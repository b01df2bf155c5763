//! An app's HTTP GET, once the user has granted it the host: no redirects, a bounded body and
//! time, and a host granted by name reached only at the addresses it had when looked up, none
//! of them this machine's or a private network's — so a name that comes to resolve to
//! 127.0.0.1 (DNS rebinding) cannot turn a grant for a site into a way to the user's own
//! services. A grant for an address itself, or for `localhost`, reaches that address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

/// Largest body an HTTP GET returns.
const MAX_BODY: usize = 1 << 20;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn fetch(url: Url) -> Result<String, String> {
    let mut client = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would look the name up again, past the addresses checked here.
        .no_proxy();
    // A name, not an address (IPv6 addresses come bracketed).
    let name = url
        .host_str()
        .filter(|host| host.parse::<IpAddr>().is_err() && !host.starts_with('['));
    if let Some(name) = name {
        let port = url.port_or_known_default().unwrap_or(80);
        let found: Vec<SocketAddr> =
            tokio::time::timeout(HTTP_TIMEOUT, tokio::net::lookup_host((name, port)))
                .await
                .map_err(|_| format!("cannot look up {name}: no answer in time"))?
                .map_err(|err| format!("cannot look up {name}: {err}"))?
                .collect();
        let addrs = reachable(name, &found)?;
        // Connected to what was checked, not to what another lookup would say.
        client = client.resolve_to_addrs(name, &addrs);
    }
    let client = client.build().map_err(|err| err.to_string())?;
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|err| format!("cannot fetch {url}: {err}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| format!("cannot read {url}: {err}"))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url} sent more than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The addresses `name` may be reached at: all it resolved to, if none is local or private
/// (but for `localhost`, which is granted as this machine).
fn reachable(name: &str, found: &[SocketAddr]) -> Result<Vec<SocketAddr>, String> {
    if found.is_empty() {
        return Err(format!("{name} has no address"));
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let local_name = name == "localhost" || name.ends_with(".localhost");
    if let Some(inner) = found.iter().find(|addr| !local_name && !public(addr.ip())) {
        return Err(format!(
            "{name} resolves to {}, a local or private address: an app granted a name reaches \
             only public addresses (grant the address itself to reach it)",
            inner.ip()
        ));
    }
    Ok(found.to_vec())
}

/// Whether `ip` is an address of the internet at large: not loopback, private, shared,
/// link-local (cloud metadata), unique- or site-local, multicast, unspecified, reserved or
/// for benchmarks and documentation. An IPv6 address that carries an IPv4 one (mapped,
/// compatible, NAT64, 6to4) is judged by that one, and Teredo, whose far end cannot be
/// told, is refused.
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let embedded = |high: u16, low: u16| {
                let [a, b] = high.to_be_bytes();
                let [c, d] = low.to_be_bytes();
                IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
            };
            match v6.segments() {
                // IPv4-compatible (::a.b.c.d), and :: and ::1 themselves.
                [0, 0, 0, 0, 0, 0, _, _] => false,
                // NAT64: the well-known prefix carries an IPv4 address; the local-use one
                // leads who knows where.
                [0x64, 0xff9b, 0, 0, 0, 0, high, low] => public(embedded(high, low)),
                [0x64, 0xff9b, ..] => false,
                // 6to4: the IPv4 address follows the prefix.
                [0x2002, high, low, ..] => public(embedded(high, low)),
                // Teredo, and documentation.
                [0x2001, 0, ..] | [0x2001, 0x0db8, ..] => false,
                [first, ..] => {
                    !(v6.is_multicast()
                        || (first & 0xfe00) == 0xfc00
                        || (first & 0xffc0) == 0xfe80
                        || (first & 0xffc0) == 0xfec0)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 443)
    }

    #[test]
    fn a_name_that_resolves_to_this_machine_or_a_private_network_is_refused() {
        for inner in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:5",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a00:5::1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "192.0.0.8",
            "198.18.0.1",
            "ff02::1",
        ] {
            let err = reachable("rebind.example", &[at("93.184.215.14"), at(inner)]).unwrap_err();
            assert!(err.contains("local or private"), "{inner}: {err}");
        }
        assert!(reachable("nothing.example", &[]).is_err());
    }

    #[test]
    fn public_addresses_and_localhost_by_name_are_reached_as_found() {
        let public = [
            at("93.184.215.14"),
            at("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
            // NAT64 and 6to4 of a public IPv4 address.
            at("64:ff9b::5db8:d70e"),
            at("2002:5db8:d70e::1"),
        ];
        assert_eq!(reachable("example.com", &public).unwrap(), public);
        for name in ["localhost", "LOCALHOST.", "dev.localhost"] {
            assert_eq!(
                reachable(name, &[at("127.0.0.1")]).unwrap(),
                [at("127.0.0.1")]
            );
        }
    }
}
