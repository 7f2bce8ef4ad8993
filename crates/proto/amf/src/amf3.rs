//! The AMF3 subset RTMP commands need (AMF3 spec section 3), reached through the AMF0
//! `avmplus-object` marker. Values map onto [`Amf0Value`]; ByteArray, vectors, dictionaries and
//! externalizable objects are rejected with [`AmfError::Amf3Unsupported`].
//!
//! Each switch from AMF0 starts with fresh string, object and traits tables (AMF3 spec 2.2: the
//! tables live for one "AMF3 context"). Strings are remembered as byte spans and objects as
//! spans that are re-read on reference, so nothing is cloned unless referenced, and re-reads are
//! charged to the shared budget.

use crate::{
    AmfError,
    decode::{Cursor, SpanTable},
    value::Amf0Value,
};

/// Decodes one AMF3 value at the cursor.
pub(crate) fn decode_value(cur: &mut Cursor<'_>) -> Result<Amf0Value, AmfError> {
    Amf3 {
        cur,
        strings: Vec::new(),
        objects: SpanTable::default(),
        traits: Vec::new(),
    }
    .value()
}

mod marker {
    pub const UNDEFINED: u8 = 0x00;
    pub const NULL: u8 = 0x01;
    pub const FALSE: u8 = 0x02;
    pub const TRUE: u8 = 0x03;
    pub const INTEGER: u8 = 0x04;
    pub const DOUBLE: u8 = 0x05;
    pub const STRING: u8 = 0x06;
    pub const XML_DOC: u8 = 0x07;
    pub const DATE: u8 = 0x08;
    pub const ARRAY: u8 = 0x09;
    pub const OBJECT: u8 = 0x0a;
    pub const XML: u8 = 0x0b;
    pub const BYTE_ARRAY: u8 = 0x0c;
    pub const DICTIONARY: u8 = 0x11;
}
use marker::*;

/// Class description shared by objects of one class (AMF3 spec 3.12).
#[derive(Debug)]
struct Traits {
    class_name: String,
    sealed: Vec<String>,
    dynamic: bool,
    /// Bytes the traits took on the wire: what a traits reference costs to re-create.
    cost: usize,
}

struct Amf3<'c, 'a> {
    cur: &'c mut Cursor<'a>,
    /// `(start, len)` of each non-empty inline string.
    strings: Vec<(usize, usize)>,
    objects: SpanTable,
    traits: Vec<Traits>,
}

impl Amf3<'_, '_> {
    fn value(&mut self) -> Result<Amf0Value, AmfError> {
        let offset = self.cur.pos;
        let marker = self.cur.u8("AMF3 type marker")?;
        Ok(match marker {
            UNDEFINED => Amf0Value::Undefined,
            NULL => Amf0Value::Null,
            FALSE => Amf0Value::Boolean(false),
            TRUE => Amf0Value::Boolean(true),
            INTEGER => {
                // U29 as a two's-complement 29-bit integer (AMF3 spec 3.6).
                let raw = self.u29("AMF3 integer")?;
                let signed = ((raw << 3) as i32) >> 3;
                Amf0Value::Number(f64::from(signed))
            }
            DOUBLE => Amf0Value::Number(self.cur.f64("AMF3 double")?),
            STRING => Amf0Value::String(self.string()?),
            BYTE_ARRAY => return Err(self.unsupported("ByteArray", offset)),
            0x0d..=0x10 => return Err(self.unsupported("vector", offset)),
            DICTIONARY => return Err(self.unsupported("dictionary", offset)),
            XML_DOC | XML | DATE | ARRAY | OBJECT => {
                let header = self.u29("AMF3 object header")?;
                if header & 1 == 0 {
                    return self.reference(header >> 1, offset);
                }
                let slot = self.objects.open(offset);
                self.cur.enter()?;
                let value = self.complex(marker, header >> 1, offset)?;
                self.cur.leave();
                self.objects.close(slot, self.cur.pos);
                value
            }
            _ => return Err(AmfError::UnknownMarker { marker, offset }),
        })
    }

    /// The body of an inline complex value whose header (after the inline flag) is `header`.
    fn complex(&mut self, marker: u8, header: u32, offset: usize) -> Result<Amf0Value, AmfError> {
        Ok(match marker {
            XML_DOC | XML => Amf0Value::XmlDocument(self.cur.string(header as usize, "AMF3 XML")?),
            DATE => Amf0Value::Date {
                millis: self.cur.f64("AMF3 date")?,
                time_zone: 0,
            },
            ARRAY => self.array(header as usize)?,
            _ => self.object(header, offset)?,
        })
    }

    /// AMF3 spec 3.11: associative part (name/value pairs up to an empty name), then `dense`
    /// values. Without associative entries this is a strict array; with them, an ECMA array
    /// whose dense entries are keyed by their index.
    fn array(&mut self, dense: usize) -> Result<Amf0Value, AmfError> {
        let mut assoc = Vec::new();
        loop {
            let key = self.string()?;
            if key.is_empty() {
                break;
            }
            assoc.push((key, self.value()?));
        }
        if dense > self.cur.remaining() {
            return Err(self.cur.truncated("AMF3 array"));
        }
        let mut items = Vec::with_capacity(dense);
        for _ in 0..dense {
            items.push(self.value()?);
        }
        if assoc.is_empty() {
            return Ok(Amf0Value::StrictArray(items));
        }
        assoc.extend(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v)),
        );
        Ok(Amf0Value::EcmaArray(assoc))
    }

    /// AMF3 spec 3.12: traits (inline or by reference), sealed member values, then dynamic
    /// members up to an empty name.
    fn object(&mut self, header: u32, offset: usize) -> Result<Amf0Value, AmfError> {
        let (class_name, sealed, dynamic) = if header & 1 == 0 {
            let index = header >> 1;
            let traits = self
                .traits
                .get(index as usize)
                .ok_or(AmfError::BadReference {
                    index,
                    count: self.traits.len(),
                    offset,
                })?;
            let cost = traits.cost;
            let found = (
                traits.class_name.clone(),
                traits.sealed.clone(),
                traits.dynamic,
            );
            self.cur.charge(cost)?;
            found
        } else if header & 2 != 0 {
            return Err(self.unsupported("externalizable object", offset));
        } else {
            self.inline_traits(header)?
        };
        let mut properties = Vec::with_capacity(sealed.len());
        for name in sealed {
            properties.push((name, self.value()?));
        }
        if dynamic {
            loop {
                let key = self.string()?;
                if key.is_empty() {
                    break;
                }
                properties.push((key, self.value()?));
            }
        }
        Ok(if class_name.is_empty() {
            Amf0Value::Object(properties)
        } else {
            Amf0Value::TypedObject {
                class_name,
                properties,
            }
        })
    }

    /// Reads inline traits, numbering them unless re-reading a referenced object (whose
    /// traits were numbered the first time).
    fn inline_traits(&mut self, header: u32) -> Result<(String, Vec<String>, bool), AmfError> {
        let start = self.cur.pos;
        let dynamic = header & 4 != 0;
        let count = (header >> 3) as usize;
        let class_name = self.string()?;
        // Every name takes at least one byte.
        if count > self.cur.remaining() {
            return Err(self.cur.truncated("AMF3 sealed member names"));
        }
        let mut sealed = Vec::with_capacity(count);
        for _ in 0..count {
            sealed.push(self.string()?);
        }
        if !self.objects.replaying() {
            self.traits.push(Traits {
                class_name: class_name.clone(),
                sealed: sealed.clone(),
                dynamic,
                cost: self.cur.pos - start + 1,
            });
        }
        Ok((class_name, sealed, dynamic))
    }

    /// A by-reference complex value: re-read the referenced span.
    fn reference(&mut self, index: u32, offset: usize) -> Result<Amf0Value, AmfError> {
        let span = self.objects.span(index, offset)?;
        let resume = self.objects.begin_replay(self.cur, span)?;
        let value = self.value();
        self.objects.end_replay(self.cur, resume);
        value
    }

    /// UTF-8-vr (AMF3 spec 1.3.2): inline with its length, or a reference into the string
    /// table. The empty string is never a reference and never numbered.
    fn string(&mut self) -> Result<String, AmfError> {
        let offset = self.cur.pos;
        let header = self.u29("AMF3 string header")?;
        if header & 1 == 0 {
            let index = header >> 1;
            let &(start, len) = self
                .strings
                .get(index as usize)
                .ok_or(AmfError::BadReference {
                    index,
                    count: self.strings.len(),
                    offset,
                })?;
            self.cur.charge(len)?;
            return Ok(String::from_utf8_lossy(&self.cur.input[start..start + len]).into_owned());
        }
        let len = (header >> 1) as usize;
        let start = self.cur.pos;
        let s = self.cur.string(len, "AMF3 string")?;
        if len > 0 && !self.objects.replaying() {
            self.strings.push((start, len));
        }
        Ok(s)
    }

    /// U29 (AMF3 spec 1.3.1): 1 to 4 bytes, 7 bits each except a full fourth byte.
    fn u29(&mut self, what: &'static str) -> Result<u32, AmfError> {
        let mut value = 0u32;
        for _ in 0..3 {
            let b = self.cur.u8(what)?;
            value = (value << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        let b = self.cur.u8(what)?;
        Ok((value << 8) | u32::from(b))
    }

    fn unsupported(&self, what: &'static str, offset: usize) -> AmfError {
        AmfError::Amf3Unsupported { what, offset }
    }
}
