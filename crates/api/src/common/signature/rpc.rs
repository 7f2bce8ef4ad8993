//! RPC signature v1 (HMAC-SHA1), signatures.md §1: used by the old Python SDK and by the new
//! one with `signature_algorithm='v2'`.
//!
//! ```text
//! canonical    = join("&", pct(k) "=" pct(v) for (k, v) in sorted(params − Signature))
//! StringToSign = METHOD "&" pct("/") "&" pct(canonical)
//! Signature    = base64(HMAC-SHA1(key = secret "&", StringToSign))
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::common::params::{Params, canonical_query, pct};

/// The only `SignatureMethod` of v1 the SDKs use.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// The only `SignatureVersion`.
pub const SIGNATURE_VERSION: &str = "1.0";

type HmacSha1 = Hmac<Sha1>;

/// The string-to-sign of a request: every parameter (query and form body) except `Signature`.
pub fn string_to_sign(method: &str, params: &Params) -> String {
    let canonical = canonical_query(params.iter().filter(|(k, _)| *k != "Signature"));
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        pct("/"),
        pct(&canonical)
    )
}

/// The base64 signature of `string_to_sign` under `secret`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    BASE64.encode(mac(secret, string_to_sign).finalize().into_bytes())
}

/// Whether `provided` (the decoded `Signature` parameter) is the signature of
/// `string_to_sign`. Constant-time in the signature bytes.
pub fn verify(secret: &str, string_to_sign: &str, provided: &str) -> bool {
    match BASE64.decode(provided) {
        Ok(bytes) => mac(secret, string_to_sign).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn mac(secret: &str, string_to_sign: &str) -> HmacSha1 {
    // The v1 key is the secret followed by '&' (the empty token secret of the OAuth-like
    // scheme the algorithm descends from).
    let key = format!("{secret}&");
    let mut mac = HmacSha1::new_from_slice(key.as_bytes())
        .expect("invariant: HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector RPC-1 of signatures.md.
    const RPC1_QUERY: &str = "Region=cn-shanghai&TaskId=fd245384-4067-4f91-9d75-9666a6bc0001&Version=2016-11-01&Action=DescribeLivePullToPush&Format=JSON&RegionId=cn-shanghai&Timestamp=2026-11-22T19%3A07%3A58Z&SignatureMethod=HMAC-SHA1&SignatureType=&SignatureVersion=1.0&SignatureNonce=33eec218bd987c5020ecfde739ae3818&AccessKeyId=LTAI5tTestAccessKeyId&Signature=ZwWSTlkfgd3BmGaG8RJPLW56PSE%3D";
    const SECRET: &str = "TestAccessKeySecret0123456789ab";

    #[test]
    fn vector_rpc_1() {
        let params = Params::from_query(RPC1_QUERY).unwrap();
        let sts = string_to_sign("GET", &params);
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26Action%3DDescribeLivePullToPush%26Format%3DJSON%26Region%3Dcn-shanghai%26RegionId%3Dcn-shanghai%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D33eec218bd987c5020ecfde739ae3818%26SignatureType%3D%26SignatureVersion%3D1.0%26TaskId%3Dfd245384-4067-4f91-9d75-9666a6bc0001%26Timestamp%3D2026-11-22T19%253A07%253A58Z%26Version%3D2016-11-01"
        );
        assert_eq!(sign(SECRET, &sts), "ZwWSTlkfgd3BmGaG8RJPLW56PSE=");
        assert!(verify(SECRET, &sts, "ZwWSTlkfgd3BmGaG8RJPLW56PSE="));
        assert!(!verify(SECRET, &sts, "ZwWSTlkfgd3BmGaG8RJPLW56PSF="));
        assert!(!verify("wrong", &sts, "ZwWSTlkfgd3BmGaG8RJPLW56PSE="));
        assert!(!verify(SECRET, &sts, "not base64!"));
        assert!(!verify(SECRET, &sts, ""));
    }

    #[test]
    fn method_is_upper_cased() {
        let params = Params::from_query(RPC1_QUERY).unwrap();
        assert_eq!(
            string_to_sign("get", &params),
            string_to_sign("GET", &params)
        );
    }
}
