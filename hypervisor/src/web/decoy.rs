//! Sign-in answers alike for every name: a name with no passkey here (unknown, or a user who
//! signs in only over SSH) gets the same challenge as a user with passkeys, with credential
//! ids made up from an HMAC of the name (webauthn-rs's generator, keyed by a secret kept in
//! the state dir), so the same name always gets the same ids and nothing tells them from
//! real ones. Finishing such a sign-in fails as a wrong passkey does.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::RequestChallengeResponse;
use webauthn_rs_proto::{
    AllowCredentials, PublicKeyCredentialRequestOptions, UserVerificationPolicy,
};

/// The key file's name in the state dir.
pub const KEY_FILE: &str = "signin-decoy.key";
const KEY_LEN: usize = 32;
/// webauthn-rs's challenge size and default authenticator timeout, which real challenges have.
const CHALLENGE_LEN: usize = 32;
const TIMEOUT_MS: u32 = 300_000;

pub struct Decoys {
    generator: WebauthnFakeCredentialGenerator<FakePasskeyDistribution>,
    rp_id: String,
}

impl Decoys {
    pub fn new(key: &[u8; KEY_LEN], rp_id: &str) -> Self {
        Self {
            generator: WebauthnFakeCredentialGenerator::new(key)
                .unwrap_or_else(|_| unreachable!("a 32-byte HMAC key is valid")),
            rp_id: rp_id.to_owned(),
        }
    }

    /// The sign-in options a name without passkeys gets.
    pub fn options(&self, user: &str) -> RequestChallengeResponse {
        let ids = self.generator.generate(user.as_bytes()).unwrap_or_default();
        let mut challenge = vec![0u8; CHALLENGE_LEN];
        super::secret::fill_random(&mut challenge);
        RequestChallengeResponse {
            public_key: PublicKeyCredentialRequestOptions {
                challenge,
                timeout: Some(TIMEOUT_MS),
                rp_id: self.rp_id.clone(),
                allow_credentials: ids
                    .into_iter()
                    .map(|id| AllowCredentials {
                        type_: "public-key".to_owned(),
                        id,
                        transports: None,
                    })
                    .collect(),
                user_verification: UserVerificationPolicy::Required,
                hints: None,
                extensions: None,
            },
            mediation: None,
        }
    }
}

/// Real options made to look like decoys: the transports a passkey reported are left out
/// (they are hints only; a made-up credential has none).
pub fn plain(mut options: RequestChallengeResponse) -> RequestChallengeResponse {
    for credential in &mut options.public_key.allow_credentials {
        credential.transports = None;
    }
    options
}

/// The decoy key in `dir`, made (0600) on first use. Keeping it keeps each name's made-up
/// ids the same across restarts, as a real user's are.
pub fn load_or_create_key(dir: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == KEY_LEN => {
            let mut key = [0u8; KEY_LEN];
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
        Ok(_) => std::fs::remove_file(&path)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let mut key = [0u8; KEY_LEN];
    super::secret::fill_random(&mut key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(&key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(options: &RequestChallengeResponse) -> Vec<Vec<u8>> {
        let allowed = &options.public_key.allow_credentials;
        allowed.iter().map(|c| c.id.to_vec()).collect()
    }

    #[test]
    fn the_same_name_gets_the_same_ids_and_a_new_challenge() {
        let decoys = Decoys::new(&[7; KEY_LEN], "choir.example.com");
        let names: Vec<String> = (0..200).map(|n| format!("user{n}")).collect();
        let mut with_ids = 0;
        for name in &names {
            let (a, b) = (decoys.options(name), decoys.options(name));
            assert_eq!(ids(&a), ids(&b));
            assert_ne!(a.public_key.challenge, b.public_key.challenge);
            assert_eq!(a.public_key.rp_id, "choir.example.com");
            with_ids += usize::from(!a.public_key.allow_credentials.is_empty());
        }
        // Most names look like users with a passkey or more.
        assert!(with_ids > 150, "{with_ids} of 200");
        let other = Decoys::new(&[8; KEY_LEN], "choir.example.com");
        assert_ne!(
            ids(&decoys.options("user1")),
            ids(&other.options("user1")),
            "another host's key makes other ids"
        );
    }

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_key(dir.path()).unwrap();
        assert_eq!(load_or_create_key(dir.path()).unwrap(), key);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert_ne!(load_or_create_key(dir.path()).unwrap(), key);
    }
}
