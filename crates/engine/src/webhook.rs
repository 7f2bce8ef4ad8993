//! Task event callbacks on the wire: an HTTP POST of a JSON body, signed so the receiver can
//! check it came from Baton and was not replayed.
//!
//! Signature: `X-Baton-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//! `X-Baton-Timestamp: <unix seconds>` (the receiver rejects stale timestamps) and
//! `X-Baton-Event-Id` (the receiver deduplicates: delivery is at least once).

use std::time::Duration;

use baton_domain::UnixTime;
use baton_net::egress::http::HttpError;
use baton_net::egress::{self, Egress, EgressRefusal};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Baton-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Baton-Timestamp";
pub const EVENT_ID_HEADER: &str = "X-Baton-Event-Id";

/// Time allowed for one delivery attempt (the providers use 5 s).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// One event to deliver.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub url: &'a str,
    pub event_id: &'a str,
    pub body: &'a [u8],
    pub secret: &'a [u8],
}

/// Why an attempt failed (the event is retried later, except after an egress refusal:
/// see [`DeliveryError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("callback request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("callback answered HTTP {0}")]
    Status(u16),
    /// The account may not reach the callback's address: nothing was sent.
    #[error(transparent)]
    Egress(EgressRefusal),
    /// The URL cannot be requested, or its host did not resolve.
    #[error("callback URL: {0}")]
    Url(String),
}

impl DeliveryError {
    /// Whether another attempt may succeed: not when the egress policy refused the address.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, DeliveryError::Egress(_))
    }
}

impl From<HttpError> for DeliveryError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Egress(r) => DeliveryError::Egress(r),
            HttpError::Http(e) => DeliveryError::Http(e),
            HttpError::Lookup(m) | HttpError::Url(m) | HttpError::Redirect(m) => {
                DeliveryError::Url(m)
            }
        }
    }
}

/// The client to deliver to `url` with: only where the account's `egress` allows (the host
/// resolved once and the connection pinned to the checked addresses), and never following a
/// redirect — a 3xx is a failed attempt, not a POST (or GET) somewhere else.
pub async fn client(egress: &Egress, url: &str) -> Result<reqwest::Client, DeliveryError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| DeliveryError::Url(format!("{url}: {e}")))?;
    Ok(egress::http::client_for(egress, &parsed).await?)
}

/// `v1=<hex>` for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: UnixTime, body: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v1=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Sends one attempt. 2xx is delivered; anything else is an error to retry.
pub async fn deliver(
    client: &reqwest::Client,
    delivery: &Delivery<'_>,
    now: UnixTime,
) -> Result<(), DeliveryError> {
    let response = client
        .post(delivery.url)
        .timeout(ATTEMPT_TIMEOUT)
        .header("Content-Type", "application/json")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(EVENT_ID_HEADER, delivery.event_id)
        .header(SIGNATURE_HEADER, sign(delivery.secret, now, delivery.body))
        .body(delivery.body.to_vec())
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}

/// The wait before attempt `attempt` (1-based retries): 1 s doubling to 10 minutes.
pub fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs((1u64 << attempt.min(10)).min(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"k",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"k", 1_700_000_000, b"{}"),
            "v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
        );
        assert_ne!(
            sign(b"k", 1_700_000_000, b"{}"),
            sign(b"k", 1_700_000_001, b"{}")
        );
        assert_ne!(
            sign(b"k", 1_700_000_000, b"{}"),
            sign(b"j", 1_700_000_000, b"{}")
        );
    }

    #[test]
    fn retries_back_off_to_ten_minutes() {
        assert_eq!(retry_delay(0), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(8));
        assert_eq!(retry_delay(30), Duration::from_secs(600));
    }
}
