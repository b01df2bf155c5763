//! The apps the user or the agent writes: WebAssembly components of the `choir:app` world
//! (`wit/app.wit`), built from a Rust crate for `wasm32-unknown-unknown` and run by the
//! daemon under limits.
//!
//! - [`scaffold`]: the files of a new app;
//! - [`build`]: builds an app's crate and makes a component of it;
//! - [`vendor`]: copies the crates apps build with, for hosts that lend them to sandboxes;
//! - [`Runtime`]: loads components and runs them ([`Running`]), each with a fuel budget per
//!   call and a memory cap, its imports answered by a [`Host`].

mod build;
mod convert;
mod crates;
mod runtime;
pub mod scaffold;

pub use build::{build, BuildError, BuildSettings, Built};
pub use crates::{crates_dir_name, vendor, CratesError};
pub use runtime::{AppError, Host, Limits, LogEntry, Running, Runtime};

/// The contract, as the apps' crates hold it (`wit/app.wit`).
pub const WIT: &str = include_str!("../wit/app.wit");

/// The version of `wit-bindgen` an app's crate uses: the one the toolchain's cache holds, so
/// a build needs no network.
pub const WIT_BINDGEN_VERSION: &str = "0.60.0";
