//! How a ChoirOS client reaches a daemon, with no user interface: the byte stream (TCP or
//! the daemon's Unix socket, whose server is checked) and the WebSocket on it
//! ([`transport`]), one HTTP request at a time to its API ([`connect`]), the protocol link
//! that survives reconnects ([`client`]), a byte budget shared by one user's connections
//! ([`budget`]), and finding or starting the local daemon ([`launch`]).
//!
//! The terminal desktop, the `choir` CLI and the hypervisor all use it; none of it draws.

pub mod budget;
pub mod client;
pub mod connect;
pub mod launch;
pub mod transport;
