//! Codec configuration records and bitstream helpers for the codecs Baton relays: enough to
//! describe a stream (codec, size, profile, level, sample rate, channels) and to convert
//! between the framings containers use. Nothing here decodes media.
//!
//! Every parser takes untrusted bytes and returns an error naming what was being read; none
//! panics, and none allocates more than the input it was given.

pub mod aac;
pub mod av1;
pub mod avc;
pub mod bits;
pub mod describe;
pub mod hevc;
pub mod nal;

/// Errors from parsing or writing codec data. Each names the structure or field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended inside the named structure.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A configuration record's version byte is not one this parser knows.
    #[error("{record} version {version} is not supported")]
    UnsupportedVersion { record: &'static str, version: u8 },
    /// A NAL unit length prefix size outside 1..=4 bytes.
    #[error("NAL unit length size {0} is invalid (must be 1 to 4)")]
    NalLengthSize(u8),
    /// A NAL unit of the wrong type was given where a specific one was needed.
    #[error("{what}: expected NAL unit type {expected}, found {found}")]
    NalType {
        what: &'static str,
        expected: u8,
        found: u8,
    },
    /// A field holds a value the specification does not allow (or that makes no sense,
    /// such as a cropping window larger than the picture).
    #[error("{field} has the invalid value {value}")]
    InvalidValue { field: &'static str, value: u64 },
    /// An Exp-Golomb code longer than 32 bits (H.264/H.265 9.1).
    #[error("Exp-Golomb code in {0} is longer than 32 bits")]
    ExpGolomb(&'static str),
    /// A value too large for the field it must be written into.
    #[error("{0} does not fit its field")]
    TooLarge(&'static str),
    /// ADTS data that does not start with the 12-bit sync word 0xFFF.
    #[error("no ADTS sync word")]
    AdtsSync,
}
