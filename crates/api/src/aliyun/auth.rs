//! Authentication of a request: which signature style it uses, where its action and version
//! are, and the checks in POP's order — elements present, request time within the window,
//! key known, signature right (constant-time), body hash right.
//!
//! The nonce is not spent here: the [`Caller`] carries it, and the pipeline spends it once the
//! key's policy and the throttle let the request through (`handler`, [`crate::Replay`]), so
//! neither an unauthenticated client nor a refused one uses up anything.

use axum::http::{HeaderMap, Method};
use baton_domain::UnixTime;

use crate::common::keys::{Credential, KeyStore};
use crate::common::params::{Origin, Params};
use crate::common::signature::{acs3, rpc, sha256_hex};
use crate::common::time::parse_utc;
use crate::error::ApiError;

/// How a request is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// ACS3-HMAC-SHA256: `Authorization` header; action and version in `x-acs-*` headers.
    V3,
    /// RPC v1 HMAC-SHA1: `Signature` parameter; action and version in parameters.
    Rpc,
    /// Neither.
    Unsigned,
}

impl Style {
    pub fn detect(headers: &HeaderMap, params: &Params) -> Style {
        if headers.contains_key("authorization") {
            Style::V3
        } else if params.get("Signature").is_some() {
            Style::Rpc
        } else {
            Style::Unsigned
        }
    }

    /// The action and version names the request carries (`None` when absent or blank).
    pub fn action_and_version<'a>(
        self,
        headers: &'a HeaderMap,
        params: &'a Params,
    ) -> (Option<&'a str>, Option<&'a str>) {
        let non_blank = |v: Option<&'a str>| v.filter(|v| !v.is_empty());
        match self {
            Style::V3 => (
                non_blank(header(headers, "x-acs-action")),
                non_blank(header(headers, "x-acs-version")),
            ),
            Style::Rpc | Style::Unsigned => (
                non_blank(params.get("Action")),
                non_blank(params.get("Version")),
            ),
        }
    }
}

/// What a request needs to be authenticated.
#[derive(Debug)]
pub struct Authenticator<'a> {
    pub keys: &'a dyn KeyStore,
    /// Accepted distance between the request time and now, seconds.
    pub window: i64,
    pub now: UnixTime,
}

/// An authenticated caller, and what its request must spend.
#[derive(Clone, Debug)]
pub struct Caller {
    pub access_key_id: String,
    pub credential: Credential,
    /// `SignatureNonce` / `x-acs-signature-nonce`.
    pub nonce: String,
    /// The signed request time (`Timestamp` / `x-acs-date`), Unix seconds.
    pub signed_at: UnixTime,
}

impl Authenticator<'_> {
    /// Authenticates a request of `style` (not [`Style::Unsigned`]).
    pub async fn authenticate(
        &self,
        style: Style,
        method: &Method,
        headers: &HeaderMap,
        params: &Params,
        body: &[u8],
    ) -> Result<Caller, ApiError> {
        match style {
            Style::Rpc => self.rpc(method, params).await,
            Style::V3 => self.v3(method, headers, params, body).await,
            Style::Unsigned => Err(ApiError::MissingSignature),
        }
    }

    async fn rpc(&self, method: &Method, params: &Params) -> Result<Caller, ApiError> {
        let required = |name: &str| {
            params
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ApiError::MissingParameter(name.to_string()))
        };
        let signature = required("Signature")?;
        let signature_method = required("SignatureMethod")?;
        if signature_method != rpc::SIGNATURE_METHOD {
            return Err(ApiError::IncompleteSignature(format!(
                "SignatureMethod {signature_method:?} is not supported; use {}",
                rpc::SIGNATURE_METHOD
            )));
        }
        let version = required("SignatureVersion")?;
        if version != rpc::SIGNATURE_VERSION {
            return Err(ApiError::IncompleteSignature(format!(
                "SignatureVersion {version:?} is not supported; use {}",
                rpc::SIGNATURE_VERSION
            )));
        }
        let access_key_id = required("AccessKeyId")?;
        let timestamp = self.request_time(required("Timestamp")?)?;
        let nonce = required("SignatureNonce")?;
        let credential = self.credential(access_key_id).await?;
        let string_to_sign = rpc::string_to_sign(method.as_str(), params);
        if !rpc::verify(&credential.secret, &string_to_sign, signature) {
            return Err(ApiError::SignatureMismatch { string_to_sign });
        }
        Ok(Caller {
            access_key_id: access_key_id.to_string(),
            credential,
            nonce: nonce.to_string(),
            signed_at: timestamp,
        })
    }

    async fn v3(
        &self,
        method: &Method,
        headers: &HeaderMap,
        params: &Params,
        body: &[u8],
    ) -> Result<Caller, ApiError> {
        let authorization = header(headers, "authorization").ok_or_else(|| {
            ApiError::IncompleteSignature("the Authorization header is not ASCII".into())
        })?;
        let auth = acs3::Authorization::parse(authorization)?;
        acs3::check_signed_headers(headers, &auth.signed_headers)?;
        let ascii = |name: &str| {
            header(headers, name)
                .ok_or_else(|| ApiError::IncompleteSignature(format!("{name} is not ASCII")))
        };
        let date = ascii("x-acs-date")?;
        let timestamp = self.request_time(date)?;
        let nonce = ascii("x-acs-signature-nonce")?;
        if nonce.is_empty() {
            return Err(ApiError::IncompleteSignature(
                "x-acs-signature-nonce is empty".into(),
            ));
        }
        let content_hash = ascii("x-acs-content-sha256")?;
        let credential = self.credential(&auth.access_key_id).await?;
        let canonical = acs3::canonical_request(
            method.as_str(),
            params.from_origin(Origin::Query),
            headers,
            &auth.signed_headers,
            content_hash,
        );
        let string_to_sign = acs3::string_to_sign(&canonical);
        if !acs3::verify(&credential.secret, &string_to_sign, &auth.signature) {
            return Err(ApiError::SignatureMismatch { string_to_sign });
        }
        // The signature covers the header; the header must cover the body received.
        if !content_hash.eq_ignore_ascii_case(&sha256_hex(body)) {
            return Err(ApiError::ContentHashMismatch);
        }
        Ok(Caller {
            access_key_id: auth.access_key_id,
            credential,
            nonce: nonce.to_string(),
            signed_at: timestamp,
        })
    }

    fn request_time(&self, value: &str) -> Result<UnixTime, ApiError> {
        let t = parse_utc(value).ok_or_else(|| ApiError::TimestampFormat(value.to_string()))?;
        if (t - self.now).abs() > self.window {
            return Err(ApiError::TimestampExpired);
        }
        Ok(t)
    }

    async fn credential(&self, access_key_id: &str) -> Result<Credential, ApiError> {
        self.keys
            .lookup(access_key_id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .ok_or(ApiError::UnknownAccessKey)
    }
}

/// A header's value as text, `None` when absent or not visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
