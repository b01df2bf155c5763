//! The ChoirOS hypervisor: users and their keys, one confined sandbox per user under a
//! supervisor, the SSH server that gives each user their live desktop, and the control socket
//! of `choir-hypervisor sandbox ...`.

pub mod control;
pub mod db;
pub mod hostkey;
pub mod layout;
pub mod sandbox;
pub mod ssh;
pub mod units;
pub mod users;
