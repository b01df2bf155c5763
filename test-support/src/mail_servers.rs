//! Real mail and calendar servers on loopback for a test: `scripts/mail-servers.sh start`
//! (Dovecot for IMAP, an SMTP server delivering into it over LMTP, Radicale for CalDAV, with
//! the users alice and bob), stopped by their pids when dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Servers started for one test, and the settings `start` printed for them.
pub struct MailServers {
    dir: PathBuf,
    vars: HashMap<String, String>,
}

impl MailServers {
    /// Starts them in a directory of their own under `parent` (installing what is missing
    /// the first time). Panics with the script's own words if they cannot start.
    pub fn start(parent: &Path) -> MailServers {
        let dir = parent.join("mail-servers");
        if let Err(err) = std::fs::create_dir_all(&dir) {
            panic!("cannot make {}: {err}", dir.display());
        }
        let out = match Command::new(script()).arg("start").arg(&dir).output() {
            Ok(out) => out,
            Err(err) => panic!("cannot run scripts/mail-servers.sh: {err}"),
        };
        assert!(
            out.status.success(),
            "scripts/mail-servers.sh start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let (name, value) = line.strip_prefix("export ")?.split_once('=')?;
                Some((name.to_owned(), unquote(value).to_owned()))
            })
            .collect();
        MailServers { dir, vars }
    }

    /// A setting `start` printed (`CHOIR_IMAP_URL`, `CHOIR_MAIL_USER2`, …).
    pub fn var(&self, name: &str) -> String {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("scripts/mail-servers.sh printed no {name}"))
            .clone()
    }

    /// Every setting `start` printed.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mail-servers.sh")
}

/// A value as the shell would read it: without its quotes.
fn unquote(value: &str) -> &str {
    let value = value.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}
