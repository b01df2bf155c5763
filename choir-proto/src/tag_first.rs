//! Decoding an internally tagged enum (`{"type": "event", "event": …}`) whose tag is the
//! object's first member, as every frame the daemon writes has it, straight from the JSON.
//!
//! serde's own decoder for such enums first copies the whole object into a buffer of its own
//! (it cannot know where the tag is), then decodes the variant from that copy: twice the work,
//! and in the browser's code a second decoder for every type a frame holds. Here the variant
//! is decoded by the enum's externally tagged mirror (`#[serde(remote = "…")]`, which the
//! compiler checks against the enum), handed the tag's value as the variant's name and the
//! rest of the object, as it comes, as its fields. An object whose tag comes later (one from
//! a `serde_json::Value`, whose members are sorted) is read whole, written again with the tag
//! first and decoded from that text: slower, but through the same decoder, so the browser's
//! code holds one.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Error, IgnoredAny,
    IntoDeserializer, MapAccess, VariantAccess, Visitor,
};

/// The variant a mirror may have for every tag it does not know (a unit variant; the object's
/// other members are skipped).
const UNKNOWN: &str = "unknown";

/// An enum decoded through its externally tagged mirror.
pub(crate) trait Mirrored<'de>: Sized {
    /// The mirror's `deserialize` (the derive's `remote` function).
    fn from_rest<A: MapAccess<'de>>(rest: Rest<A>) -> Result<Self, A::Error>;
}

/// Decodes `T` from an object tagged by its member `tag` (best first).
pub(crate) fn deserialize<'de, D, T>(deserializer: D, tag: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Mirrored<'de> + DeserializeOwned,
{
    deserializer.deserialize_map(TagFirst {
        tag,
        output: PhantomData,
    })
}

struct TagFirst<T> {
    tag: &'static str,
    output: PhantomData<T>,
}

impl<'de, T: Mirrored<'de> + DeserializeOwned> Visitor<'de> for TagFirst<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "an object tagged by its member `{}`", self.tag)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == self.tag => {
                let variant = map.next_value()?;
                T::from_rest(Rest { variant, map })
            }
            Some(key) => tag_later(self.tag, key, map),
            None => Err(A::Error::missing_field(self.tag)),
        }
    }
}

/// An object whose first member, `first`, is not the tag: read whole, then decoded from its
/// text written again with the tag first.
fn tag_later<'de, A, T>(tag: &'static str, first: String, mut map: A) -> Result<T, A::Error>
where
    A: MapAccess<'de>,
    T: DeserializeOwned,
{
    let mut members = serde_json::Map::new();
    members.insert(first, map.next_value()?);
    while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
        members.insert(key, value);
    }
    let variant = members
        .remove(tag)
        .ok_or_else(|| A::Error::missing_field(tag))?;
    let rest = serde_json::Value::Object(members).to_string();
    let others = rest.strip_prefix('{').unwrap_or("}");
    let comma = if others == "}" { "" } else { "," };
    let text = format!(
        "{{{}:{variant}{comma}{others}",
        serde_json::Value::from(tag)
    );
    serde_json::from_str(&text).map_err(A::Error::custom)
}

/// The tag's value and the object's other members, presented to a mirror as an externally
/// tagged enum: `{variant: {members…}}`.
pub(crate) struct Rest<A> {
    variant: String,
    map: A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Rest<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        if !variants.contains(&self.variant.as_str()) && variants.contains(&UNKNOWN) {
            self.variant = UNKNOWN.to_owned();
        }
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Rest<A> {
    type Error = A::Error;
    type Variant = Members<A>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Members<A>), A::Error> {
        let name: StringDeserializer<A::Error> = self.variant.into_deserializer();
        Ok((seed.deserialize(name)?, Members(self.map)))
    }
}

/// The members after the tag: the variant's fields.
pub(crate) struct Members<A>(A);

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Members<A> {
    type Error = A::Error;

    fn unit_variant(mut self) -> Result<(), A::Error> {
        while self.0.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        seed.deserialize(MapAccessDeserializer::new(self.0))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(A::Error::custom("a tagged object has no tuple variants"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.0)
    }
}

/// Decodes `$enum` (internally tagged by `$tag`, its first member) through its mirror `$def`.
macro_rules! mirrored {
    ($enum:ty, $def:ident, $tag:literal) => {
        impl<'de> serde::Deserialize<'de> for $enum {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::tag_first::deserialize(deserializer, $tag)
            }
        }

        impl<'de> $crate::tag_first::Mirrored<'de> for $enum {
            fn from_rest<A: serde::de::MapAccess<'de>>(
                rest: $crate::tag_first::Rest<A>,
            ) -> Result<Self, A::Error> {
                $def::deserialize(rest)
            }
        }
    };
}
pub(crate) use mirrored;
