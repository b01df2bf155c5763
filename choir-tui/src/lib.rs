//! ChoirOS terminal desktop: the window manager and its apps, the input parser, the session
//! loop, the local terminal, and the desktop for a terminal at the far end of a byte stream
//! (`remote`, which the daemon runs for SSH). The `choir` command line is `choir-cli`; the
//! client library is `choir-client`.

pub mod apps;
pub mod desktop;
pub mod input;
pub mod remote;
pub mod session;
pub mod terminal;
pub mod theme;
pub mod wrap;
