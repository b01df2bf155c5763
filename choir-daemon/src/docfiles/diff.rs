//! The edit that turns one text into another: the common start and end are kept and the middle
//! is replaced. Not a minimal diff, but it leaves every character outside the changed span
//! alone, which is what lets a file edit merge with concurrent edits elsewhere.

use choir_proto::TextOp;

/// An operation from `old` to `new`, in characters.
pub fn diff(old: &str, new: &str) -> TextOp {
    let old_chars: Vec<char> = old.chars().collect();
    let new_chars: Vec<char> = new.chars().collect();
    let prefix = old_chars
        .iter()
        .zip(&new_chars)
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = old_chars.len().min(new_chars.len()) - prefix;
    let suffix = old_chars
        .iter()
        .rev()
        .zip(new_chars.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let inserted: String = new_chars[prefix..new_chars.len() - suffix].iter().collect();
    TextOp::splice(old_chars.len(), prefix, old_chars.len() - suffix, &inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_changed_middle_is_replaced() {
        let op = diff("hello world", "hello brave world");
        assert_eq!(op, TextOp::new().retain(6).insert("brave ").retain(5));
        assert_eq!(diff("aaa", "aa"), TextOp::new().retain(2).delete(1));
        assert!(diff("same", "same").is_noop());
    }

    proptest! {
        #[test]
        fn the_diff_turns_old_into_new(old in "[ab漢\n]{0,12}", new in "[ab漢\n]{0,12}") {
            prop_assert_eq!(diff(&old, &new).apply(&old).unwrap(), new);
        }
    }
}
