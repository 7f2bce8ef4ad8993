//! The stable names of relay error kinds, as tasks store them (`LastError.code`) and the
//! event log's notes and the APIs show them.

use baton_relay::ErrorKind;

/// The stable name of an error kind: its variant's name, spelled out here so that renaming a
/// variant cannot change what tasks already stored say.
pub fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidUrl => "InvalidUrl",
        ErrorKind::Connect => "Connect",
        ErrorKind::Refused => "Refused",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::Disconnected => "Disconnected",
        ErrorKind::Protocol => "Protocol",
        ErrorKind::Ended => "Ended",
        ErrorKind::Unsupported => "Unsupported",
        ErrorKind::EgressDenied => "EgressDenied",
        ErrorKind::Certificate => "Certificate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_pascal_case_names() {
        for kind in [
            ErrorKind::InvalidUrl,
            ErrorKind::Connect,
            ErrorKind::Refused,
            ErrorKind::NotFound,
            ErrorKind::Timeout,
            ErrorKind::Disconnected,
            ErrorKind::Protocol,
            ErrorKind::Ended,
            ErrorKind::Unsupported,
            ErrorKind::EgressDenied,
            ErrorKind::Certificate,
        ] {
            let code = error_code(kind);
            assert_eq!(code, format!("{kind:?}"), "the variant's name");
            assert!(code.chars().all(|c| c.is_ascii_alphabetic()));
            assert!(code.starts_with(|c: char| c.is_ascii_uppercase()));
        }
    }
}
