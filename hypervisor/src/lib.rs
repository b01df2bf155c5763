//! The ChoirOS hypervisor: users with their SSH keys and passkeys, one confined sandbox per
//! user under a supervisor, the SSH server that gives each user their live desktop, the web
//! server that signs browsers in and carries them to their sandbox, and the control socket of
//! `choir-hypervisor sandbox ...`.

pub mod admission;
pub mod control;
pub mod db;
pub mod gateway;
pub mod hostkey;
pub mod layout;
pub mod revocations;
pub mod sandbox;
pub mod ssh;
pub mod units;
pub mod users;
pub mod web;
