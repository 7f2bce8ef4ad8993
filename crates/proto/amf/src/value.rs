//! The AMF0 value tree (AMF0 spec section 2).

/// One AMF0 value.
///
/// Object-like variants keep their properties as an ordered list of `(key, value)` pairs: order
/// matters on the wire (some peers read the first matching key) and duplicate keys survive a
/// round trip.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// IEEE-754 double (marker 0x00). AMF3 integers decode to this too.
    Number(f64),
    /// Marker 0x01.
    Boolean(bool),
    /// UTF-8 string of at most 65535 bytes on the wire (marker 0x02). A longer string is
    /// encoded as a long string.
    String(String),
    /// Anonymous object (marker 0x03).
    Object(Vec<(String, Amf0Value)>),
    /// Marker 0x05.
    Null,
    /// Marker 0x06; also what the "unsupported" marker 0x0d decodes to.
    Undefined,
    /// Associative array (marker 0x08). The count on the wire is ignored when decoding, as
    /// players do, and written as the number of entries when encoding.
    EcmaArray(Vec<(String, Amf0Value)>),
    /// Dense array (marker 0x0a).
    StrictArray(Vec<Amf0Value>),
    /// Milliseconds since the Unix epoch, UTC, and a time zone the spec says to ignore
    /// (marker 0x0b).
    Date { millis: f64, time_zone: i16 },
    /// String with a 32-bit length (marker 0x0c).
    LongString(String),
    /// XML text (marker 0x0f).
    XmlDocument(String),
    /// Object with a registered class name (marker 0x10).
    TypedObject {
        class_name: String,
        properties: Vec<(String, Amf0Value)>,
    },
}

impl Amf0Value {
    /// The text of a `String` or `LongString`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a `Number`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a `Boolean`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The properties of an `Object`, `EcmaArray` or `TypedObject`.
    pub fn properties(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(p)
            | Amf0Value::EcmaArray(p)
            | Amf0Value::TypedObject { properties: p, .. } => Some(p),
            _ => None,
        }
    }

    /// The elements of a `StrictArray`.
    pub fn as_array(&self) -> Option<&[Amf0Value]> {
        match self {
            Amf0Value::StrictArray(items) => Some(items),
            _ => None,
        }
    }

    /// The first property named `key` of an `Object`, `EcmaArray` or `TypedObject`.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Builds an anonymous `Object` from `(key, value)` pairs, keeping their order.
    pub fn object<'a>(props: impl IntoIterator<Item = (&'a str, Amf0Value)>) -> Amf0Value {
        Amf0Value::Object(props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

impl From<&str> for Amf0Value {
    fn from(s: &str) -> Self {
        Amf0Value::String(s.to_owned())
    }
}

impl From<String> for Amf0Value {
    fn from(s: String) -> Self {
        Amf0Value::String(s)
    }
}

impl From<f64> for Amf0Value {
    fn from(n: f64) -> Self {
        Amf0Value::Number(n)
    }
}

impl From<bool> for Amf0Value {
    fn from(b: bool) -> Self {
        Amf0Value::Boolean(b)
    }
}
