//! The server's host key: generated on first start, kept (0600) so clients never see it change;
//! in a shared database, one key for every hypervisor of it, so clients see one host.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use russh::keys::{Algorithm, PrivateKey};

pub fn load_or_create(path: &Path) -> Result<PrivateKey> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return PrivateKey::from_openssh(text.trim())
            .with_context(|| format!("{} is not an OpenSSH private key", path.display()));
    }
    let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .context("cannot generate a host key")?;
    let text = key
        .to_openssh(Default::default())
        .context("cannot encode the host key")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text.as_bytes())?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)?;
    Ok(key)
}

/// The host key every hypervisor of the shared database `pool` serves with: the first to
/// start puts in its own (`file`, the key it served with before it shared the database, so
/// its clients see no change), else a new one. Whoever can read the database can read it.
pub async fn shared(pool: &crate::db::Pool, file: &Path) -> Result<PrivateKey> {
    crate::db::create(
        pool,
        &["CREATE TABLE IF NOT EXISTS host_keys (name TEXT PRIMARY KEY, private_key TEXT NOT NULL)"],
    )
    .await
    .context("cannot make the host key's table")?;
    let key = if file.exists() {
        load_or_create(file)?
    } else {
        PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
            .context("cannot generate a host key")?
    };
    let text = key
        .to_openssh(Default::default())
        .context("cannot encode the host key")?;
    // Another hypervisor's, if it was first.
    sqlx::query(
        "INSERT INTO host_keys (name, private_key) VALUES ('ssh-ed25519', $1) \
         ON CONFLICT DO NOTHING",
    )
    .bind(text.as_str())
    .execute(pool)
    .await
    .context("cannot record the host key")?;
    let kept: String =
        sqlx::query_scalar("SELECT private_key FROM host_keys WHERE name = 'ssh-ed25519'")
            .fetch_one(pool)
            .await
            .context("cannot read the host key")?;
    PrivateKey::from_openssh(kept.trim())
        .context("the shared host key is not an OpenSSH private key")
}
