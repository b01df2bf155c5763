//! The user's mail accounts, kept in the data dir (`mail-accounts.json`, 0600) and never in
//! the log: the log holds what the tools did with them, not how to log in. An account is
//! kept only once its IMAP server took the login, its SMTP server answered and, if it has
//! one, its CalDAV server showed a calendar.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use choir_mail::{Account, MailError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const FILE: &str = "mail-accounts.json";

/// The accounts; cheap to clone (clones share them).
#[derive(Clone, Debug)]
pub struct MailAccounts {
    path: PathBuf,
    accounts: Arc<RwLock<Vec<Account>>>,
}

#[derive(Serialize, Deserialize, Default)]
struct Stored {
    accounts: Vec<Account>,
}

/// Why accounts could not be read, kept or checked.
#[derive(Debug, Error)]
pub enum AccountsError {
    #[error("cannot read {path}: {reason}")]
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
    /// The accounts kept in `data_dir` (none if the file is not there).
    pub fn open(data_dir: &Path) -> Result<Self, AccountsError> {
        let path = data_dir.join(FILE);
        let stored = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<Stored>(&bytes).map_err(|err| AccountsError::Read {
                    path: path.clone(),
                    reason: err.to_string(),
                })?
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(err) => {
                return Err(AccountsError::Read {
                    path,
                    reason: err.to_string(),
                })
            }
        };
        Ok(Self {
            path,
            accounts: Arc::new(RwLock::new(stored.accounts)),
        })
    }

    /// The account for `address`, or the first one when none is named.
    pub fn get(&self, address: Option<&str>) -> Result<Account, AccountsError> {
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
        let mailbox = choir_mail::Mailbox::open(&account).await?;
        mailbox.close().await;
        choir_mail::check_smtp(&account).await?;
        if account.caldav.is_some() {
            choir_mail::Calendar::open(&account).await?;
        }
        let mut accounts = self.read().clone();
        accounts.retain(|kept| !kept.address.eq_ignore_ascii_case(&account.address));
        accounts.push(account);
        self.save(accounts)
    }

    /// Forgets the account for `address`; whether there was one.
    pub fn remove(&self, address: &str) -> Result<bool, AccountsError> {
        let mut accounts = self.read().clone();
        let before = accounts.len();
        accounts.retain(|kept| !kept.address.eq_ignore_ascii_case(address.trim()));
        if accounts.len() == before {
            return Ok(false);
        }
        self.save(accounts)?;
        Ok(true)
    }

    fn save(&self, accounts: Vec<Account>) -> Result<(), AccountsError> {
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
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = stored.accounts;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Account>> {
        self.accounts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
