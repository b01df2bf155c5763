//! The user's mail accounts, kept in the data dir (`mail-accounts.json`, 0600) and never in
//! the log: the log holds what the tools did with them, not how to log in, and their
//! passwords are taken out of every event (see [`Redactor`]). An account is kept only once
//! its IMAP server took the login, its SMTP server answered and, if it has one, its CalDAV
//! server showed a calendar.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use choir_mail::{Account, MailError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::store::Redactor;

const FILE: &str = "mail-accounts.json";

/// The accounts; cheap to clone (clones share them).
#[derive(Clone, Debug)]
pub struct MailAccounts {
    path: PathBuf,
    accounts: Arc<RwLock<Vec<Account>>>,
    /// Why the file could not be read, if it could not: nothing is written over it then.
    unreadable: Option<String>,
    /// One change at a time (read, change, write).
    writing: Arc<Mutex<()>>,
    redactor: Redactor,
}

#[derive(Serialize, Deserialize, Default)]
struct Stored {
    accounts: Vec<Account>,
}

/// Why accounts could not be read, kept or checked.
#[derive(Debug, Error)]
pub enum AccountsError {
    #[error("cannot read {path}: {reason} (fix or remove it, then restart the daemon)")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("no mail account is set up (choir account add --from-env)")]
    None,
    #[error("no mail account for {0}")]
    Unknown(String),
}

impl MailAccounts {
    /// The accounts kept in `data_dir` (none if the file is not there). A file that cannot
    /// be read is said in the log and by every mail tool, and left as it is; the daemon
    /// runs on. Their passwords go to `redactor`.
    pub fn open(data_dir: &Path, redactor: Redactor) -> Self {
        let path = data_dir.join(FILE);
        let read = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Stored>(&bytes).map_err(|err| err.to_string()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Stored::default()),
            Err(err) => Err(err.to_string()),
        };
        let (stored, unreadable) = match read {
            Ok(stored) => (stored, None),
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "cannot read the mail accounts");
                (Stored::default(), Some(reason))
            }
        };
        let accounts = Self {
            path,
            accounts: Arc::new(RwLock::new(stored.accounts)),
            unreadable,
            writing: Arc::new(Mutex::new(())),
            redactor,
        };
        accounts.redact();
        accounts
    }

    /// The account for `address`, or the first one when none is named.
    pub fn get(&self, address: Option<&str>) -> Result<Account, AccountsError> {
        self.readable()?;
        let accounts = self.read();
        match address {
            None => accounts.first().cloned().ok_or(AccountsError::None),
            Some(address) => accounts
                .iter()
                .find(|account| account.address.eq_ignore_ascii_case(address.trim()))
                .cloned()
                .ok_or_else(|| {
                    if accounts.is_empty() {
                        AccountsError::None
                    } else {
                        AccountsError::Unknown(address.to_owned())
                    }
                }),
        }
    }

    /// Every account (with their passwords: not for showing).
    pub fn all(&self) -> Vec<Account> {
        self.read().clone()
    }

    /// Checks `account` against its servers (the IMAP login, an SMTP greeting, the CalDAV
    /// calendar), then keeps it, in place of one with the same address.
    pub async fn add(&self, account: Account) -> Result<(), AccountsError> {
        self.readable()?;
        let mailbox = choir_mail::Mailbox::open(&account).await?;
        mailbox.close().await;
        choir_mail::check_smtp(&account).await?;
        if account.caldav.is_some() {
            choir_mail::Calendar::open(&account).await?;
        }
        self.change(|accounts| {
            accounts.retain(|kept| !kept.address.eq_ignore_ascii_case(&account.address));
            accounts.push(account);
        })
    }

    /// Forgets the account for `address`; whether there was one.
    pub fn remove(&self, address: &str) -> Result<bool, AccountsError> {
        self.readable()?;
        self.change(|accounts| {
            let before = accounts.len();
            accounts.retain(|kept| !kept.address.eq_ignore_ascii_case(address.trim()));
            accounts.len() < before
        })
    }

    /// Changes the accounts and writes them, one change at a time; what `edit` said.
    fn change<T>(&self, edit: impl FnOnce(&mut Vec<Account>) -> T) -> Result<T, AccountsError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut accounts = self.read().clone();
        let said = edit(&mut accounts);
        let stored = Stored { accounts };
        let bytes = serde_json::to_vec_pretty(&stored).unwrap_or_default();
        crate::atomic_file::write(&self.path, &bytes, Some(0o600)).map_err(|source| {
            AccountsError::Write {
                path: self.path.clone(),
                source,
            }
        })?;
        *self
            .accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner) = stored.accounts;
        self.redact();
        Ok(said)
    }

    fn readable(&self) -> Result<(), AccountsError> {
        match &self.unreadable {
            Some(reason) => Err(AccountsError::Read {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Has the redactor take the passwords kept now out of every event.
    fn redact(&self) {
        let passwords = self
            .read()
            .iter()
            .map(|account| account.password.clone())
            .collect();
        self.redactor.set_passwords(passwords);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Account>> {
        self.accounts.read().unwrap_or_else(PoisonError::into_inner)
    }
}
