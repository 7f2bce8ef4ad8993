//! What several relay test files read from a hub subscription (the destination's side of a
//! relay on the in-memory network).

#![allow(dead_code)] // Each test file uses a part.

use baton_media::TagType;
use baton_net::hub::{StreamEvent, Subscription};
use tokio::time::Instant;

/// Every event of `sub` until `deadline`.
pub async fn observe(sub: &Subscription, deadline: Instant) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        events.push(event);
    }
    events
}

/// The DTS of the media frames (not sequence headers) of one kind, in arrival order.
pub fn media_dts(events: &[StreamEvent], kind: TagType) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame(f) if f.kind == kind && !f.config => Some(f.dts),
            _ => None,
        })
        .collect()
}
