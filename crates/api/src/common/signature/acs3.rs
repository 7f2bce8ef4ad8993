//! ACS3-HMAC-SHA256 ("V3"), signatures.md §2: the new Python SDK's default.
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HashedPayload
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(key = secret, StringToSign))
//! ```
//! `CanonicalHeaders` lists the headers named in `SignedHeaders`, in that order, as
//! `name:trimmed value\n` (repeated headers: trimmed values sorted and joined with `,`). The
//! list comes from the request, never a fixed set: SDKs of different languages sign different
//! headers. [`check_signed_headers`] enforces the minimum.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AuthorizationElements, hex, sha256_hex, unhex};
use crate::common::params::canonical_query;
use crate::error::ApiError;

/// The algorithm name in the `Authorization` header.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers every V3 request must sign (`content-type` too when present, and every `x-acs-*`
/// header sent).
pub const REQUIRED_SIGNED_HEADERS: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

type HmacSha256 = Hmac<Sha256>;

/// The parsed `Authorization` header:
/// `ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses the header value. Other algorithms (`ACS3-HMAC-SM3`, `ACS3-RSA-SHA256`) and
    /// missing or repeated elements are [`ApiError::IncompleteSignature`].
    pub fn parse(value: &str) -> Result<Authorization, ApiError> {
        let e = AuthorizationElements::parse(value, ALGORITHM)?;
        Ok(Authorization {
            access_key_id: e.credential.to_string(),
            signed_headers: e.signed_headers,
            signature: e.signature.to_string(),
        })
    }
}

/// Checks that the request signs at least [`REQUIRED_SIGNED_HEADERS`], `content-type` when it
/// is present, and every `x-acs-*` header it sends (an unsigned one could be added by anyone).
pub fn check_signed_headers(headers: &HeaderMap, signed: &[String]) -> Result<(), ApiError> {
    super::check_signed_headers(headers, signed, &REQUIRED_SIGNED_HEADERS, |name| {
        name == "content-type" || name.starts_with("x-acs-")
    })
}

/// The canonical request. `query` are the decoded URL-query parameters only (a form body is
/// covered by `hashed_payload`).
pub fn canonical_request<'a>(
    method: &str,
    query: impl Iterator<Item = (&'a str, &'a str)>,
    headers: &HeaderMap,
    signed_headers: &[String],
    hashed_payload: &str,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(&method.to_ascii_uppercase());
    out.push_str("\n/\n");
    out.push_str(&canonical_query(query));
    out.push('\n');
    for name in signed_headers {
        let mut values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            .collect();
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(hashed_payload);
    out
}

/// `ACS3-HMAC-SHA256\n` + hex(sha256(canonical request)).
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The hex signature of `string_to_sign` under `secret`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    hex(&mac(secret, string_to_sign).finalize().into_bytes())
}

/// Whether `provided` (hex) is the signature of `string_to_sign`. Constant-time in the
/// signature bytes.
pub fn verify(secret: &str, string_to_sign: &str, provided: &str) -> bool {
    match unhex(provided) {
        Some(bytes) => mac(secret, string_to_sign).verify_slice(&bytes).is_ok(),
        None => false,
    }
}

fn mac(secret: &str, string_to_sign: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .expect("invariant: HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "ACS3-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=8d572751080f057b5abe2a0fbbe2c4c0d17fc7fd3778bd3b6012dc21958a06e5";

    #[test]
    fn parses_the_python_sdk_header() {
        let a = Authorization::parse(AUTH).unwrap();
        assert_eq!(a.access_key_id, "LTAI5tTestAccessKeyId");
        assert_eq!(a.signed_headers.len(), 9);
        assert_eq!(a.signed_headers[1], "host");
        assert!(a.signature.starts_with("8d5727"));
        // Other SDKs put a space after the commas.
        let spaced = AUTH.replace(",SignedHeaders", ", SignedHeaders");
        assert_eq!(Authorization::parse(&spaced).unwrap(), a);
    }

    #[test]
    fn malformed_headers_are_incomplete_signatures() {
        for bad in [
            "",
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=00",
            "ACS3-RSA-SHA256 Credential=a,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
            "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=Host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;date,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;host,Signature=00",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00,Extra=1",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature",
        ] {
            assert!(
                matches!(
                    Authorization::parse(bad),
                    Err(ApiError::IncompleteSignature(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn required_headers_must_be_signed() {
        let mut headers = HeaderMap::new();
        for name in REQUIRED_SIGNED_HEADERS {
            headers.insert(name, "v".parse().unwrap());
        }
        let mut signed: Vec<String> = REQUIRED_SIGNED_HEADERS.map(String::from).to_vec();
        assert!(check_signed_headers(&headers, &signed).is_ok());
        headers.insert("x-acs-security-token", "t".parse().unwrap());
        assert!(check_signed_headers(&headers, &signed).is_err());
        signed.push("x-acs-security-token".into());
        assert!(check_signed_headers(&headers, &signed).is_ok());
        headers.insert("content-type", "t".parse().unwrap());
        assert!(check_signed_headers(&headers, &signed).is_err());
        signed.push("content-type".into());
        signed.push("accept".into());
        // Signed but absent.
        assert!(check_signed_headers(&headers, &signed).is_err());
        signed.pop();
        signed.retain(|h| h != "x-acs-date");
        assert!(check_signed_headers(&headers, &signed).is_err());
    }

    #[test]
    fn repeated_headers_are_sorted_and_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-acs-b", " 2 ".parse().unwrap());
        headers.append("x-acs-b", "1".parse().unwrap());
        headers.insert("host", "h:1".parse().unwrap());
        let signed = vec!["host".to_string(), "x-acs-b".to_string()];
        let c = canonical_request("post", [("b", "1")].into_iter(), &headers, &signed, "e3");
        assert_eq!(c, "POST\n/\nb=1\nhost:h:1\nx-acs-b:1,2\n\nhost;x-acs-b\ne3");
    }
}
