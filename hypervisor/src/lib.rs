//! The ChoirOS hypervisor: users and their keys, one sandbox daemon per user, and the SSH
//! server that gives each user their live desktop.

pub mod hostkey;
pub mod sandbox;
pub mod ssh;
pub mod users;
