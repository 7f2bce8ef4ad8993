//! AMF0 (Adobe "Action Message Format -- AMF 0", December 2007), the encoding of RTMP command
//! and data messages, plus enough AMF3 (Adobe "AMF 3 Specification", January 2013) to read
//! commands sent by clients that switch to it with the `avmplus-object` marker (AMF0 section 3.1,
//! marker 0x11).
//!
//! Sans-IO and allocation-conscious: decoding never allocates more than the input justifies
//! (lengths and counts from the wire are checked against the remaining input first), nesting is
//! limited to [`MAX_DEPTH`], and references (AMF0 marker 0x07, AMF3 by-reference values) are
//! resolved by re-reading the referenced bytes under a budget equal to the input length, so a
//! hostile chain of references cannot expand exponentially. Strings are decoded as lossy UTF-8,
//! as players do.
//!
//! Everything decodes into [`Amf0Value`]; AMF3 values are mapped onto their AMF0 counterparts
//! (integer and double → `Number`, array → `StrictArray` or `EcmaArray`, object → `Object` or
//! `TypedObject`). Encoding always produces AMF0.

mod amf3;
mod decode;
mod encode;
mod value;

pub use decode::{decode, decode_all};
pub use encode::{encode, encode_all};
pub use value::Amf0Value;

/// Deepest nesting of objects/arrays accepted by the decoder.
pub const MAX_DEPTH: usize = 64;

/// Errors from decoding AMF data. Each names what was being read and the byte offset (from the
/// start of the input given to [`decode`] / [`decode_all`]) where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmfError {
    /// The input ended inside a value.
    #[error("truncated AMF {what} at byte {offset}")]
    Truncated { what: &'static str, offset: usize },
    /// A type marker that neither AMF0 nor AMF3 defines.
    #[error("unknown AMF0 type marker 0x{marker:02x} at byte {offset}")]
    UnknownMarker { marker: u8, offset: usize },
    /// A marker the specification reserves and no encoder produces (AMF0 movieclip 0x04,
    /// recordset 0x0e).
    #[error("reserved AMF0 type marker 0x{marker:02x} at byte {offset}")]
    ReservedMarker { marker: u8, offset: usize },
    /// The object-end marker (0x09) where a value was expected.
    #[error("unexpected AMF0 object-end marker at byte {offset}")]
    UnexpectedObjectEnd { offset: usize },
    /// Objects/arrays nested deeper than [`MAX_DEPTH`].
    #[error("AMF nesting deeper than {limit} at byte {offset}")]
    TooDeep { limit: usize, offset: usize },
    /// A reference to a complex value that was never decoded.
    #[error("AMF reference {index} out of range ({count} values in the table) at byte {offset}")]
    BadReference {
        index: u32,
        count: usize,
        offset: usize,
    },
    /// A reference to an object that is still being decoded (a cycle), which has no tree
    /// representation.
    #[error("AMF reference {index} is cyclic at byte {offset}")]
    CyclicReference { index: u32, offset: usize },
    /// Resolving references would produce more data than the input itself holds.
    #[error("AMF references expand beyond the input size at byte {offset}")]
    ReferenceBudget { offset: usize },
    /// An AMF3 type this decoder does not map (ByteArray, vectors, dictionary) or an
    /// externalizable object, whose body format only its class knows.
    #[error("unsupported AMF3 {what} at byte {offset}")]
    Amf3Unsupported { what: &'static str, offset: usize },
}

#[cfg(test)]
mod tests;
