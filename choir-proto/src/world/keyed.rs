//! Maps keyed by ids travel as plain lists of their values (each value carries its own id).
//! JSON objects would need string keys, which serde cannot turn back into numbers inside
//! tagged frames.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A value that knows its own key.
pub trait Keyed {
    type Key: Ord;
    fn key(&self) -> Self::Key;
}

pub fn serialize<S, V>(map: &BTreeMap<V::Key, V>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    V: Keyed + Serialize,
{
    serializer.collect_seq(map.values())
}

pub fn deserialize<'de, D, V>(deserializer: D) -> Result<BTreeMap<V::Key, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Keyed + Deserialize<'de>,
{
    let values = Vec::<V>::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .map(|value| (value.key(), value))
        .collect())
}
