//! What the net integration tests share: one publisher → ingest → player round trip.

use std::time::Duration;

use baton_net::MediaKind;
use baton_net::client::{PlayEvent, RtmpConnection};

/// One media message as a test sends it: kind, timestamp, payload.
pub type Message = (MediaKind, u32, Vec<u8>);

/// Sends `sent` through `publisher` and asserts `player` receives exactly those messages, in
/// order (5 s per message at most).
pub async fn relay_through(
    publisher: &mut RtmpConnection,
    player: &mut RtmpConnection,
    sent: &[Message],
) {
    for (kind, ts, payload) in sent {
        publisher.send_media(*kind, *ts, payload).unwrap();
    }
    publisher.flush().await.unwrap();
    let mut got = Vec::new();
    while got.len() < sent.len() {
        match tokio::time::timeout(Duration::from_secs(5), player.next_media()).await {
            Ok(Ok(PlayEvent::Media {
                kind,
                timestamp,
                payload,
            })) => got.push((kind, timestamp, payload.to_vec())),
            other => panic!("unexpected {other:?} after {} messages", got.len()),
        }
    }
    assert_eq!(got, sent);
}

/// Closes `publisher` and asserts `player` is told the stream ended.
pub async fn close_and_see_end(publisher: RtmpConnection, player: &mut RtmpConnection) {
    publisher.close(Duration::from_secs(1)).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), player.next_media()).await;
    assert!(
        matches!(ended, Ok(Ok(PlayEvent::Ended { .. }))),
        "{ended:?}"
    );
}
