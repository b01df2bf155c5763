use super::*;
use proptest::prelude::*;

#[test]
fn apply_and_lengths() {
    let op = TextOp::new().retain(2).insert("漢字").delete(1).retain(1);
    assert_eq!((op.base_len(), op.target_len()), (4, 5));
    assert_eq!(op.apply("abcd").unwrap(), "ab漢字d");
    assert_eq!(
        op.apply("abc"),
        Err(OpError::LengthMismatch {
            expected: 4,
            actual: 3
        })
    );
}

#[test]
fn builder_normalizes() {
    let op = TextOp::new()
        .retain(1)
        .retain(2)
        .delete(1)
        .insert("x")
        .insert("y")
        .delete(2);
    assert_eq!(
        op.parts(),
        &[
            OpPart::Retain(3),
            OpPart::Insert("xy".into()),
            OpPart::Delete(3)
        ]
    );
    assert!(TextOp::new()
        .retain(0)
        .insert("")
        .delete(0)
        .parts()
        .is_empty());
}

#[test]
fn concurrent_inserts_at_one_place_keep_both_texts() {
    let a = TextOp::new().retain(1).insert("A").retain(1);
    let b = TextOp::new().retain(1).insert("B").retain(1);
    let (a2, b2) = TextOp::transform(&a, &b).unwrap();
    assert_eq!(b2.apply(&a.apply("xy").unwrap()).unwrap(), "xABy");
    assert_eq!(a2.apply(&b.apply("xy").unwrap()).unwrap(), "xABy");
}

#[test]
fn mismatched_lengths_are_errors_not_panics() {
    let a = TextOp::new().retain(3);
    let b = TextOp::new().retain(2);
    assert!(TextOp::transform(&a, &b).is_err());
    assert!(a.compose(&b).is_err());
}

/// A random operation on a text of `len` characters.
fn op_for(len: usize) -> impl Strategy<Value = TextOp> {
    prop::collection::vec((0u8..3, 0usize..4, "[a-z漢]{1,3}"), 0..8).prop_map(move |steps| {
        let mut op = TextOp::new();
        let mut left = len;
        for (kind, n, text) in steps {
            match kind {
                0 => {
                    let n = n.min(left);
                    op = op.retain(n);
                    left -= n;
                }
                1 => op = op.insert(&text),
                _ => {
                    let n = n.min(left);
                    op = op.delete(n);
                    left -= n;
                }
            }
        }
        op.retain(left)
    })
}

fn text_and_two_ops() -> impl Strategy<Value = (String, TextOp, TextOp)> {
    "[a-zé漢 ]{0,12}".prop_flat_map(|text| {
        let len = text.chars().count();
        (Just(text), op_for(len), op_for(len))
    })
}

fn text_and_composable_ops() -> impl Strategy<Value = (String, TextOp, TextOp)> {
    "[a-zé漢 ]{0,12}"
        .prop_flat_map(|text| {
            let len = text.chars().count();
            (Just(text), op_for(len))
        })
        .prop_flat_map(|(text, a)| {
            let len = a.target_len();
            (Just(text), Just(a), op_for(len))
        })
}

proptest! {
    #[test]
    fn transformed_pairs_converge((text, a, b) in text_and_two_ops()) {
        let (a2, b2) = TextOp::transform(&a, &b).unwrap();
        let via_a = b2.apply(&a.apply(&text).unwrap()).unwrap();
        let via_b = a2.apply(&b.apply(&text).unwrap()).unwrap();
        prop_assert_eq!(via_a, via_b);
    }

    #[test]
    fn composition_equals_applying_in_turn((text, a, b) in text_and_composable_ops()) {
        let middle = a.apply(&text).unwrap();
        let composed = a.compose(&b).unwrap();
        prop_assert_eq!(composed.apply(&text).unwrap(), b.apply(&middle).unwrap());
    }

    /// Clients edit the revision they last saw; the server rebases each edit over everything
    /// committed since, like the daemon will. Each insert is one unique character (so no later
    /// edit can land inside it): every one of them is in the final text exactly once.
    #[test]
    fn a_server_rebasing_random_interleavings_loses_no_insert(
        edits in prop::collection::vec((0usize..4, 0usize..100, any::<bool>()), 1..40)
    ) {
        let mut text = String::from("seed text");
        let mut history: Vec<TextOp> = Vec::new();
        // Each client's last seen revision (history length) and its text then.
        let mut clients: Vec<(usize, String)> = vec![(0, text.clone()); 4];
        let mut markers = Vec::new();
        for (n, (client, at, refresh)) in edits.into_iter().enumerate() {
            let (seen, base) = clients[client].clone();
            let len = base.chars().count();
            let at = at % (len + 1);
            let marker = char::from_u32(0x4E00 + n as u32).unwrap().to_string();
            let op = TextOp::new().retain(at).insert(&marker).retain(len - at);
            let mut rebased = op;
            for committed in &history[seen..] {
                rebased = TextOp::transform(&rebased, committed).unwrap().0;
            }
            text = rebased.apply(&text).unwrap();
            history.push(rebased);
            markers.push(marker);
            if refresh {
                clients[client] = (history.len(), text.clone());
            }
        }
        for marker in &markers {
            prop_assert_eq!(text.matches(marker.as_str()).count(), 1, "{} in {}", marker, text);
        }
        prop_assert_eq!(text.chars().count(), "seed text".len() + markers.len());
    }
}

#[test]
fn positions_follow_the_text_they_are_in() {
    // "hello world": insert "big " before "world", delete "hello ".
    let op = TextOp::new().delete(6).insert("big ").retain(5);
    assert_eq!(op.apply("hello world").unwrap(), "big world");
    assert_eq!(op.transform_position(0), 0);
    assert_eq!(
        op.transform_position(3),
        4,
        "inside replaced text: after the replacement"
    );
    assert_eq!(
        op.transform_position(6),
        4,
        "start of `world` stays at `world`"
    );
    assert_eq!(op.transform_position(11), 9, "end stays at the end");
    // An insert exactly at a cursor lands after it.
    let at_two = TextOp::new().retain(2).insert("XY").retain(1);
    assert_eq!(at_two.transform_position(2), 2);
    assert_eq!(at_two.transform_position(3), 5);
}

#[test]
fn splice_clamps_its_range() {
    assert_eq!(TextOp::splice(5, 1, 3, "Z").apply("abcde").unwrap(), "aZde");
    assert_eq!(
        TextOp::splice(5, 4, 99, "!").apply("abcde").unwrap(),
        "abcd!"
    );
    assert_eq!(TextOp::splice(0, 0, 0, "new").apply("").unwrap(), "new");
}

proptest! {
    #[test]
    fn rope_application_equals_string_application((text, a, _b) in text_and_two_ops()) {
        let mut rope = Rope::from_str(&text);
        a.apply_rope(&mut rope).unwrap();
        prop_assert_eq!(rope.to_string(), a.apply(&text).unwrap());
    }

    #[test]
    fn inverse_restores_the_base((text, a, _b) in text_and_two_ops()) {
        let base = Rope::from_str(&text);
        let inverse = a.invert(&base).unwrap();
        prop_assert_eq!(inverse.apply(&a.apply(&text).unwrap()).unwrap(), text);
    }

    #[test]
    fn transformed_positions_stay_in_order_and_in_bounds(
        (text, a, _b) in text_and_two_ops(), x in 0usize..16, y in 0usize..16
    ) {
        let len = text.chars().count();
        let (x, y) = (x.min(len), y.min(len));
        let (lo, hi) = (x.min(y), x.max(y));
        prop_assert!(a.transform_position(lo) <= a.transform_position(hi));
        prop_assert!(a.transform_position(hi) <= a.target_len());
    }
}
