//! What stands between the open internet and the sign-in endpoints: the same-origin check
//! for anything that changes state (and for the WebSocket), and a rate limit per client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, Method};

/// Whether a request comes from a page of `origin` (`https://host[:port]`). A browser sends
/// `Origin` on every cross-site request, on every POST and on WebSocket upgrades; where a
/// browser left it out, `Sec-Fetch-Site: same-origin` counts. Anything else is refused: a
/// request that cannot show where it came from does not change state.
pub fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    match headers.get(header::ORIGIN) {
        Some(value) => value.to_str().is_ok_and(|value| value == origin),
        None => headers
            .get("sec-fetch-site")
            .is_some_and(|value| value == "same-origin"),
    }
}

/// Whether `method` may change state (and so needs [`same_origin`]).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A token bucket per client address (an IPv6 client by its /64, which one host is given):
/// `burst` attempts at once, refilled at `burst` per minute. Remembers at most `MAX_CLIENTS`
/// addresses: when full, those whose bucket has filled up again are forgotten, and if that
/// frees nothing, a new address waits like a spent one.
pub struct RateLimiter {
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

const MAX_CLIENTS: usize = 100_000;

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            burst: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `client`; `Err(wait)` when it has none left.
    pub fn take(&self, client: IpAddr) -> Result<(), Duration> {
        let client = match client {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
            IpAddr::V6(v6) => IpAddr::V4(
                v6.to_ipv4_mapped()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            ),
            v4 => v4,
        };
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let per_second = self.burst / 60.0;
        if buckets.len() >= MAX_CLIENTS {
            let burst = self.burst;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < burst
            });
            if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
                return Err(Duration::from_secs_f64(1.0 / per_second));
            }
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_the_own_origin_passes() {
        let origin = "https://choir.example";
        assert!(same_origin(
            &headers(&[("origin", "https://choir.example")]),
            origin
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            origin
        ));
        for refused in [
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "https://choir.example.evil.example")]),
            headers(&[("origin", "http://choir.example")]),
            headers(&[("origin", "null")]),
            headers(&[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin"),
            ]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[]),
        ] {
            assert!(!same_origin(&refused, origin), "{refused:?}");
        }
    }

    #[test]
    fn each_client_gets_its_burst_then_waits() {
        let limiter = RateLimiter::new(5);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..5 {
            assert!(limiter.take(a).is_ok());
        }
        let wait = limiter.take(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(5) && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        assert!(limiter.take(b).is_ok(), "another client is not held back");
        let (c, d): (IpAddr, IpAddr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::ffff:2".parse().unwrap(),
        );
        for _ in 0..5 {
            assert!(limiter.take(c).is_ok());
        }
        assert!(limiter.take(d).is_err(), "one /64 is one client");
    }
}
