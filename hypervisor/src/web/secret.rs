//! Secrets the web side hands out (session ids, invite tokens, ceremony ids) and how they are
//! kept: only a SHA-256 of each is stored, so the database alone opens nothing.

use base64::Engine as _;

/// 256 random bits, base64url: a session id, an invite token, a ceremony id.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Fills `bytes` from the OS's generator. It does not fail on Linux once booted; a zeroed
/// secret would be caught by the uniqueness of what it names, but never hand one out.
pub fn fill_random(bytes: &mut [u8]) {
    if let Err(err) = getrandom::fill(bytes) {
        tracing::error!(%err, "the system's random generator failed");
        std::process::abort();
    }
}

/// What is stored for a secret: its SHA-256 in hex.
pub use choir_proto::secret_digest as digest;

pub use choir_proto::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&a).len(), 64);
    }
}
