use std::net::SocketAddr;

use baton_mpegts::Track;
use baton_net::srt_client::{Rejection, SrtError};

use super::*;

#[test]
fn what_the_muxer_refuses_maps_to_wait_drop_or_a_final_error_naming_the_codec() {
    let unsupported = mux_outcome(Err(MuxError::Unsupported {
        track: Track::Video,
        name: "AV1".into(),
    }))
    .unwrap_err();
    assert_eq!(
        (unsupported.side, unsupported.kind, unsupported.retryable),
        (Side::Destination, ErrorKind::Unsupported, false)
    );
    assert!(unsupported.message.contains("AV1"), "{unsupported}");
    assert!(unsupported.message.contains("MPEG-TS"), "{unsupported}");
    assert_eq!(
        mux_outcome(Err(MuxError::NoConfig {
            track: Track::Audio
        })),
        Ok(Sent::Skipped)
    );
    for bad in [
        MuxError::BadFrame {
            track: Track::Video,
            reason: "truncated".into(),
        },
        MuxError::BadConfig {
            track: Track::Audio,
            reason: "short".into(),
        },
    ] {
        assert_eq!(mux_outcome(Err(bad)), Ok(Sent::Dropped));
    }
    assert_eq!(mux_outcome(Ok(())), Ok(Sent::Queued));
}

#[test]
fn srt_refusals_are_final_for_a_destination_timeouts_are_retried() {
    let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
    let rejected = |why| SrtError::Rejected {
        addr,
        reason: "rejected".into(),
        why,
    };
    for (e, kind, retryable) in [
        (rejected(Rejection::Passphrase), ErrorKind::Refused, false),
        (rejected(Rejection::Refused), ErrorKind::Refused, false),
        // An unknown stream id may appear at a source, not at a destination.
        (rejected(Rejection::NotFound), ErrorKind::NotFound, false),
        (rejected(Rejection::Busy), ErrorKind::Connect, true),
        (
            SrtError::Timeout {
                addr,
                timeout: Duration::from_secs(1),
            },
            ErrorKind::Timeout,
            true,
        ),
        (SrtError::Closed, ErrorKind::Disconnected, true),
    ] {
        let got = from_srt_on(Side::Destination, &e);
        assert_eq!(
            (got.side, got.kind, got.retryable),
            (Side::Destination, kind, retryable),
            "{e}"
        );
    }
    assert!(from_srt_on(Side::Source, &rejected(Rejection::NotFound)).retryable);
}

#[test]
fn destination_urls_are_rtmp_rtmps_or_srt_and_srt_options_are_checked() {
    assert!(matches!(
        DestinationUrl::parse("rtmp://h/app/key"),
        Ok(DestinationUrl::Rtmp(_))
    ));
    assert!(matches!(
        DestinationUrl::parse("rtmps://h/app/key"),
        Ok(DestinationUrl::Rtmp(_))
    ));
    match DestinationUrl::parse("srt://h:9000?streamid=live/a&latency=200") {
        Ok(DestinationUrl::Srt(u)) => assert_eq!(u.stream_id.as_deref(), Some("live/a")),
        other => panic!("{other:?}"),
    }
    let e = DestinationUrl::parse("srt://h:9000?oheadbw=25").unwrap_err();
    assert_eq!(
        (e.side, e.kind, e.retryable),
        (Side::Destination, ErrorKind::Unsupported, false)
    );
    assert!(e.message.contains("\"oheadbw\""), "{e}");
    let e = DestinationUrl::parse("srt://h").unwrap_err();
    assert_eq!((e.side, e.kind), (Side::Destination, ErrorKind::InvalidUrl));
}
