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

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The elements of an `Authorization: <ALGORITHM> Credential=…, SignedHeaders=…,
/// Signature=…` header, as both HMAC-SHA256 schemes (ACS3, Volcengine) write it: elements
/// separated by `,` (with or without a space), each exactly once, no others.
pub(crate) struct AuthorizationElements<'a> {
    pub credential: &'a str,
    /// Lower-case header names, in the client's order, none twice.
    pub signed_headers: Vec<String>,
    pub signature: &'a str,
}

impl<'a> AuthorizationElements<'a> {
    /// Parses `value`, which must start with `algorithm`; anything missing, repeated or
    /// malformed is [`ApiError::IncompleteSignature`].
    pub(crate) fn parse(value: &'a str, algorithm: &str) -> Result<Self, ApiError> {
        let incomplete = |why: &str| ApiError::IncompleteSignature(why.to_string());
        let (name, rest) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| incomplete("the Authorization header has no credential"))?;
        if name != algorithm {
            return Err(ApiError::IncompleteSignature(format!(
                "signature algorithm {name:?} is not supported; use {algorithm}"
            )));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for element in rest.split(',').map(str::trim) {
            let (key, val) = element
                .split_once('=')
                .ok_or_else(|| incomplete("an Authorization element has no '='"))?;
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => {
                    return Err(ApiError::IncompleteSignature(format!(
                        "unknown Authorization element {key:?}"
                    )));
                }
            };
            if slot.replace(val).is_some() {
                return Err(ApiError::IncompleteSignature(format!(
                    "Authorization element {key} is repeated"
                )));
            }
        }
        let credential = credential
            .filter(|c| !c.is_empty())
            .ok_or_else(|| incomplete("Credential is missing"))?;
        let signature = signature
            .filter(|s| !s.is_empty())
            .ok_or_else(|| incomplete("Signature is missing"))?;
        let signed_headers: Vec<String> = signed
            .ok_or_else(|| incomplete("SignedHeaders is missing"))?
            .split(';')
            .map(str::to_string)
            .collect();
        for (i, name) in signed_headers.iter().enumerate() {
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(incomplete("SignedHeaders must be lower-case header names"));
            }
            if signed_headers[..i].contains(name) {
                return Err(ApiError::IncompleteSignature(format!(
                    "SignedHeaders names {name} twice"
                )));
            }
        }
        Ok(AuthorizationElements {
            credential,
            signed_headers,
            signature,
        })
    }
}

/// Checks that a request signs every header of `required`, every header it sends that
/// `must_sign` names (anyone could add an unsigned one), and only headers it sends.
pub(crate) fn check_signed_headers(
    headers: &HeaderMap,
    signed: &[String],
    required: &[&str],
    must_sign: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    let is_signed = |name: &str| signed.iter().any(|s| s == name);
    let unsigned = required
        .iter()
        .copied()
        .chain(headers.keys().map(|n| n.as_str()).filter(|n| must_sign(n)))
        .find(|name| !is_signed(name));
    if let Some(name) = unsigned {
        return Err(ApiError::IncompleteSignature(format!(
            "header {name} must be signed"
        )));
    }
    if let Some(name) = signed.iter().find(|n| !headers.contains_key(n.as_str())) {
        return Err(ApiError::IncompleteSignature(format!(
            "signed header {name} is not in the request"
        )));
    }
    Ok(())
}

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
