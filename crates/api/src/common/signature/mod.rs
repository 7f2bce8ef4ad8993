//! Server-side verification of request signatures: Alibaba Cloud (POP) RPC v1 HMAC-SHA1 and
//! ACS3-HMAC-SHA256 ("V3"), and Volcengine HMAC-SHA256 (`volc`). Pure functions over decoded
//! parameters and headers; a dialect's request pipeline decides which applies and adds the
//! time window and replay checks.
//!
//! The algorithms are in shared/reference/signatures.md §1–3; the worked vectors there and
//! every captured SDK request verify (tests/signatures.rs). Comparisons of signatures are
//! constant-time (`Mac::verify_slice`).

pub mod acs3;
pub mod rpc;
pub mod volc;

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes lower- or upper-case hex; `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            Some((hi << 4 | lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_empty_hash() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(unhex("00ffA1"), Some(vec![0, 255, 0xa1]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é1"), None);
        assert_eq!(hex(&[0, 255, 0xa1]), "00ffa1");
    }
}
