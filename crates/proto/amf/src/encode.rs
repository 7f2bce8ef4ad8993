//! AMF0 encoding (AMF0 spec section 2). Never emits references or AMF3.

use crate::decode::{
    BOOLEAN, DATE, ECMA_ARRAY, LONG_STRING, NULL, NUMBER, OBJECT, OBJECT_END, STRICT_ARRAY, STRING,
    TYPED_OBJECT, UNDEFINED, XML_DOCUMENT,
};
use crate::value::Amf0Value;

/// Appends the AMF0 encoding of `value` to `out`.
///
/// A `String` longer than 65535 bytes is written as a long string (marker 0x0c), the only
/// encoding that can hold it. Property names and class names longer than 65535 bytes cannot be
/// represented in AMF0 and are cut at the last character boundary that fits.
pub fn encode(value: &Amf0Value, out: &mut Vec<u8>) {
    match value {
        Amf0Value::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => out.extend_from_slice(&[BOOLEAN, u8::from(*b)]),
        Amf0Value::String(s) if s.len() <= usize::from(u16::MAX) => {
            out.push(STRING);
            short_string(s, out);
        }
        Amf0Value::String(s) | Amf0Value::LongString(s) => {
            out.push(LONG_STRING);
            long_string(s, out);
        }
        Amf0Value::Object(props) => {
            out.push(OBJECT);
            properties(props, out);
        }
        Amf0Value::Null => out.push(NULL),
        Amf0Value::Undefined => out.push(UNDEFINED),
        Amf0Value::EcmaArray(props) => {
            out.push(ECMA_ARRAY);
            out.extend_from_slice(&saturating_u32(props.len()).to_be_bytes());
            properties(props, out);
        }
        Amf0Value::StrictArray(items) => {
            out.push(STRICT_ARRAY);
            out.extend_from_slice(&saturating_u32(items.len()).to_be_bytes());
            for item in items {
                encode(item, out);
            }
        }
        Amf0Value::Date { millis, time_zone } => {
            out.push(DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&time_zone.to_be_bytes());
        }
        Amf0Value::XmlDocument(s) => {
            out.push(XML_DOCUMENT);
            long_string(s, out);
        }
        Amf0Value::TypedObject {
            class_name,
            properties: props,
        } => {
            out.push(TYPED_OBJECT);
            short_string(class_name, out);
            properties(props, out);
        }
    }
}

/// Encodes a sequence of values back to back (an RTMP command or data message body).
pub fn encode_all(values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        encode(value, &mut out);
    }
    out
}

fn properties(props: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (key, value) in props {
        short_string(key, out);
        encode(value, out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

/// UTF-8 with a 16-bit length (AMF0 spec 1.3, "UTF-8").
fn short_string(s: &str, out: &mut Vec<u8>) {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

/// UTF-8 with a 32-bit length ("UTF-8-long"). Strings beyond 4 GiB cannot exist in a message
/// anyway; they are cut like short strings rather than corrupting the framing.
fn long_string(s: &str, out: &mut Vec<u8>) {
    let mut end = s.len().min(u32::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u32).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
