//! Which variant of a master playlist a relay plays.

use crate::playlist::{MasterPlaylist, Resolution, Variant};

/// How to choose a variant. The default, [`VariantPreference::Best`], is what a relay of "the
/// stream" wants: the best picture Baton can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VariantPreference {
    /// The highest-BANDWIDTH variant with video Baton can carry ([`Variant::has_video`] and
    /// [`Variant::has_supported_video`]); among equal bandwidths the first listed. When no
    /// variant qualifies (an audio-only master playlist, or only codecs Baton cannot carry),
    /// the highest-BANDWIDTH variant of all: the relay then carries what it can, or names
    /// the codec it cannot.
    #[default]
    Best,
    /// The n-th EXT-X-STREAM-INF in document order, from 0.
    Index(usize),
    /// The highest-BANDWIDTH variant of exactly this RESOLUTION.
    Resolution(Resolution),
    /// The highest-BANDWIDTH variant with video whose BANDWIDTH is at most this many bits per
    /// second (a cap for a destination's uplink).
    MaxBandwidth(u64),
}

/// Why no variant was chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantError {
    /// The master playlist lists no variant.
    #[error("the master playlist lists no variant")]
    NoVariants,
    /// [`VariantPreference::Index`] past the end.
    #[error("variant {index} asked for, the master playlist lists {count}")]
    NoSuchIndex { index: usize, count: usize },
    /// No variant has the resolution asked for.
    #[error("no variant has resolution {}x{}", .0.width, .0.height)]
    NoSuchResolution(Resolution),
    /// Every variant with video exceeds the bandwidth cap.
    #[error("no variant with video has BANDWIDTH at most {0} bit/s")]
    NothingWithinBandwidth(u64),
}

/// Chooses the variant to play, as `preference` says.
pub fn choose_variant(
    master: &MasterPlaylist,
    preference: VariantPreference,
) -> Result<&Variant, VariantError> {
    let variants = &master.variants;
    if variants.is_empty() {
        return Err(VariantError::NoVariants);
    }
    let video = |v: &&Variant| v.has_video() && v.has_supported_video();
    match preference {
        VariantPreference::Best => highest(variants.iter().filter(video))
            .or_else(|| highest(variants.iter()))
            .ok_or(VariantError::NoVariants),
        VariantPreference::Index(index) => variants.get(index).ok_or(VariantError::NoSuchIndex {
            index,
            count: variants.len(),
        }),
        VariantPreference::Resolution(resolution) => {
            highest(variants.iter().filter(|v| v.resolution == Some(resolution)))
                .ok_or(VariantError::NoSuchResolution(resolution))
        }
        VariantPreference::MaxBandwidth(cap) => {
            highest(variants.iter().filter(video).filter(|v| v.bandwidth <= cap))
                .ok_or(VariantError::NothingWithinBandwidth(cap))
        }
    }
}

/// The highest-bandwidth variant, the first listed among equals.
fn highest<'a>(variants: impl Iterator<Item = &'a Variant>) -> Option<&'a Variant> {
    variants.fold(None, |best: Option<&Variant>, v| match best {
        Some(b) if b.bandwidth >= v.bandwidth => Some(b),
        _ => Some(v),
    })
}
