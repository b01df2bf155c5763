//! Secrets: tokens and credentials drawn from the system's generator, and comparing one
//! presented with the one held without telling, through timing, how much of it matched.

/// Whether `presented` is `expected`, compared in a time that depends only on their lengths.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What is stored for a secret instead of the secret: its SHA-256, as lowercase hex. Not on
/// wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub fn secret_digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `bytes` random bytes from the system's generator, as lowercase hex. Not on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_is_the_same() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cret", "s3creT"));
        assert!(!same_secret("s3cret", "s3cre"));
        assert!(!same_secret("s3cret", ""));
        assert!(same_secret("", ""));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_digest_is_sha256_in_hex() {
        // The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(
            secret_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn random_hex_is_hex_of_the_length_asked_and_never_twice() {
        let one = random_hex(32).unwrap();
        assert_eq!(one.len(), 64);
        assert!(one
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(one, random_hex(32).unwrap());
    }
}
