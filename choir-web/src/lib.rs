//! The ChoirOS web mirror. The Yew application that draws the desktop in a browser lands with
//! the web issue; today this crate only proves that the shared protocol crate links into a
//! browser-side crate.

pub use choir_proto::PROTOCOL_VERSION;
