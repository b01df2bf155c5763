//! The terminal's help overlay (F1 or C-a ?): its rows of the one bindings table.

use choir_desktop::bindings::{self, Front};

/// (keys, what they do), as the help overlay shows them.
pub fn bindings() -> Vec<(String, String)> {
    bindings::help(Front::Terminal).collect()
}
