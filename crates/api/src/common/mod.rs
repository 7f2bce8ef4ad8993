//! What every dialect shares: parameter decoding, request ids, key lookup, signature
//! algorithms, replay protection, throttling and time.

pub mod keys;
pub mod params;
pub mod replay;
pub mod signature;
pub mod throttle;
pub mod time;

/// A new request id: a random (v4) UUID in upper case, as Alibaba's gateway issues them
/// (`6EBD1AC4-C34D-4AE1-963E-B688A228BE31`).
pub fn request_id() -> String {
    uuid::Uuid::new_v4()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_look_like_alibabas() {
        let id = super::request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(
            id.bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_ne!(id, super::request_id());
    }
}
