//! Tests that `baton.example.toml` (the repository's config reference) documents every key of
//! [`FileConfig`] and parses into it.
//!
//! The key set comes from the struct itself, not from a list kept by hand: [`keys_of`] drives a
//! type's `Deserialize` with a tracing deserializer that records the field names each struct
//! asks for, descends into every field (options, sequences, maps, nested structs), and offers
//! leaves a value that every leaf type here accepts. A field added to the config is a key
//! this test demands from the example.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::de::value::{Error, StrDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use crate::config::FileConfig;

/// Where the example sits, from this crate.
const EXAMPLE: &str = include_str!("../../../baton.example.toml");

/// What a map (`[egress.accounts.ID]`) key stands for in a key path.
const ANY: &str = "*";

/// Every key path of `T` (`ingest.max_connections`; map keys as `*`, an array of tables'
/// keys under its own name: `accounts.id`).
fn keys_of<'de, T: serde::Deserialize<'de>>() -> Result<BTreeSet<String>, Error> {
    let keys = RefCell::new(BTreeSet::new());
    T::deserialize(Tracer {
        path: String::new(),
        keys: &keys,
    })?;
    Ok(keys.into_inner())
}

/// A deserializer that hands every type a sample of what it asks for, recording struct fields.
struct Tracer<'k> {
    path: String,
    keys: &'k RefCell<BTreeSet<String>>,
}

impl<'k> Tracer<'k> {
    fn at(&self, name: &str) -> Tracer<'k> {
        Tracer {
            path: join(&self.path, name),
            keys: self.keys,
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A string every string-typed leaf accepts (a socket address is also a path and a name).
const SAMPLE: &str = "127.0.0.1:1";

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = Error;

    /// Untagged enums (durations: text or seconds) buffer through here: a number fits them.
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bool(false)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_i64(1)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(1.0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(1.0)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_char('a')
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(SAMPLE)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(SAMPLE)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bytes(SAMPLE.as_bytes())
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bytes(SAMPLE.as_bytes())
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_seq(One { tracer: Some(self) })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }
    /// A map's keys are the user's (`[egress.accounts.acme]`): one entry, named `*`.
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let value = self.at(ANY);
        self.keys.borrow_mut().insert(value.path.clone());
        v.visit_map(Fields {
            names: vec![ANY],
            parent: self,
            value: None,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        for field in fields {
            self.keys.borrow_mut().insert(join(&self.path, field));
        }
        v.visit_map(Fields {
            names: fields.to_vec(),
            parent: self,
            value: None,
        })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        // A unit variant (`log_format = "text"`).
        let first: StrDeserializer<'_, Error> = variants
            .first()
            .copied()
            .unwrap_or_default()
            .into_deserializer();
        v.visit_enum(first)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str(SAMPLE)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

/// A sequence of one element.
struct One<'k> {
    tracer: Option<Tracer<'k>>,
}

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.tracer.take().map(|t| seed.deserialize(t)).transpose()
    }
}

/// A struct's fields (or a map's one entry), each once.
struct Fields<'k> {
    names: Vec<&'static str>,
    parent: Tracer<'k>,
    value: Option<&'static str>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.names.is_empty() {
            return Ok(None);
        }
        let name = self.names.remove(0);
        self.value = Some(name);
        let key: StrDeserializer<'_, Error> = name.into_deserializer();
        seed.deserialize(key).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let name = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value before its key"))?;
        seed.deserialize(self.parent.at(name))
    }
}

/// The example with its disabled settings (`#key = …`, `#[table]`: a `#` with no space
/// after it) switched on; documentation lines (`# …`) stay comments.
fn with_everything_on(example: &str) -> String {
    example
        .lines()
        .map(|line| match line.trim_start().strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '[') => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every key path of a TOML document (array-of-tables entries under the array's name).
fn paths(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = join(prefix, key);
        out.insert(path.clone());
        match value {
            toml::Value::Table(t) => paths(t, &path, out),
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(t) = item {
                        paths(t, &path, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether a struct key path (`*` for a map key) names `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (p, k): (Vec<_>, Vec<_>) = (pattern.split('.').collect(), path.split('.').collect());
    p.len() == k.len() && p.iter().zip(&k).all(|(p, k)| *p == ANY || p == k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, Settings};

    #[test]
    fn the_tracer_finds_nested_optional_and_map_keys() {
        let keys = keys_of::<FileConfig>().expect("tracing FileConfig");
        for key in [
            "data_dir",
            "ingest.idle_timeout",
            "accounts.callback_secret",
            "api.keys.policy",
            "domains.publish_auth_key2",
            "egress.accounts.*.allow",
            "srt.latency",
        ] {
            assert!(keys.contains(key), "{key} not traced: {keys:?}");
        }
    }

    #[test]
    fn the_example_parses_as_it_is_and_with_everything_on() {
        let file: FileConfig =
            toml::from_str(EXAMPLE).unwrap_or_else(|e| panic!("baton.example.toml as it is: {e}"));
        Settings::merge(file, Overrides::default())
            .expect("baton.example.toml as it is is a valid configuration");
        // Unknown keys are refused (deny_unknown_fields on every section), so every key of
        // the switched-on example is a real one.
        let on = with_everything_on(EXAMPLE);
        toml::from_str::<FileConfig>(&on).unwrap_or_else(|e| {
            panic!("baton.example.toml with its `#key = …` lines switched on: {e}")
        });
    }

    #[test]
    fn the_example_documents_every_key() {
        let on = with_everything_on(EXAMPLE);
        let table: toml::Table = toml::from_str(&on).expect("the switched-on example is TOML");
        let mut documented = BTreeSet::new();
        paths(&table, "", &mut documented);
        let missing: Vec<String> = keys_of::<FileConfig>()
            .expect("tracing FileConfig")
            .into_iter()
            .filter(|key| !documented.iter().any(|path| matches(key, path)))
            .collect();
        assert!(
            missing.is_empty(),
            "baton.example.toml does not document these config keys (add each with its doc \
             line and default; `#key = value` if it has no default): {}",
            missing.join(", ")
        );
    }

    #[test]
    fn switching_on_leaves_documentation_alone() {
        let text = "# A doc line.\n#key = 1\n  #[table]\n#  also doc\n";
        assert_eq!(
            with_everything_on(text),
            "# A doc line.\nkey = 1\n[table]\n#  also doc"
        );
    }
}
