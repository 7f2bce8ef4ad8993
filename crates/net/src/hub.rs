//! The stream registry of the ingest: one entry per stream key (domain/app/stream), holding the
//! publisher slot, the GOP cache and the subscribers.
//!
//! Fan-out: the publisher's [`Frame`]s (reference-counted payloads, so one shared buffer per
//! stream) are pushed into one bounded [`SubscriberQueue`] per subscriber. The queue's full-queue
//! policy is `DropToKeyframe`: a slow subscriber loses frames up to the next keyframe; the
//! publisher never waits for it and other subscribers never notice.
//!
//! Lock order: hub map → stream state → subscriber queue. No lock is held across an `.await`.
//!
//! What is live: each publish keeps its origin, start, codecs and input rates ([`stats`]);
//! [`StreamHub::list`] snapshots them with the subscriber count and the GOP cache size.

mod stats;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use baton_media::Frame;
use baton_media::gop::{GopCache, GopCacheConfig};
use baton_media::queue::{QueueConfig, SubscriberQueue};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use stats::PublishStats;
pub use stats::{IngestProtocol, PublishInfo, PublishOrigin};

/// Identifies a stream: the ingest domain (vhost), the application and the stream name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub domain: String,
    pub app: String,
    pub stream: String,
}

impl StreamKey {
    pub fn new(
        domain: impl Into<String>,
        app: impl Into<String>,
        stream: impl Into<String>,
    ) -> Self {
        StreamKey {
            domain: domain.into(),
            app: app.into(),
            stream: stream.into(),
        }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.domain, self.app, self.stream)
    }
}

/// Sizes of the per-stream and per-subscriber buffers.
#[derive(Clone, Debug)]
pub struct HubConfig {
    pub gop: GopCacheConfig,
    pub queue: QueueConfig,
}

impl Default for HubConfig {
    /// The subscriber queue bounds equal the GOP cache bounds, so that a new subscriber's
    /// GOP replay always fits in its queue.
    fn default() -> Self {
        HubConfig {
            gop: GopCacheConfig {
                max_bytes: 8 << 20,
                max_frames: 2048,
            },
            queue: QueueConfig {
                max_frames: 2048,
                max_bytes: 8 << 20,
            },
        }
    }
}

/// Why a publish could not claim a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("stream {0} is already being published")]
    AlreadyPublishing(StreamKey),
}

/// A snapshot of one stream, for status pages and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub key: StreamKey,
    pub publishing: bool,
    /// The current publish, `None` when nobody publishes.
    pub publish: Option<PublishInfo>,
    pub subscribers: usize,
    /// Frames in the GOP cache: what a new subscriber receives at once (metadata and sequence
    /// headers included).
    pub gop_cache_frames: usize,
    /// Payload bytes of those frames.
    pub gop_cache_bytes: usize,
    pub frames_in: u64,
    /// Frames dropped across all subscribers (current and past) of this stream.
    pub frames_dropped: u64,
}

/// The registry. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct StreamHub {
    streams: Mutex<HashMap<StreamKey, Arc<Stream>>>,
    config: HubConfig,
    next_id: AtomicU64,
}

impl StreamHub {
    pub fn new(config: HubConfig) -> Arc<StreamHub> {
        Arc::new(StreamHub {
            streams: Mutex::new(HashMap::new()),
            config,
            next_id: AtomicU64::new(1),
        })
    }

    /// Claims the publisher slot of `key` for a publisher inside the process (no origin). One
    /// publisher per stream: a second claim fails until the first [`Publisher`] is dropped.
    pub fn publish(self: &Arc<Self>, key: StreamKey) -> Result<Publisher, ClaimError> {
        self.claim(key, None)
    }

    /// Claims the publisher slot of `key` for a publisher that came in from `origin` (see
    /// [`publish`](Self::publish)).
    pub fn publish_from(
        self: &Arc<Self>,
        key: StreamKey,
        origin: PublishOrigin,
    ) -> Result<Publisher, ClaimError> {
        self.claim(key, Some(origin))
    }

    fn claim(
        self: &Arc<Self>,
        key: StreamKey,
        origin: Option<PublishOrigin>,
    ) -> Result<Publisher, ClaimError> {
        let stream = self.stream(&key);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let closed = CancellationToken::new();
        {
            let mut state = stream.lock();
            if state.publisher.is_some() {
                drop(state);
                self.collect(&key);
                return Err(ClaimError::AlreadyPublishing(key));
            }
            state.publisher = Some(PublisherSlot {
                id,
                closed: closed.clone(),
                stats: PublishStats::new(origin, Instant::now()),
            });
            state.gop.clear();
        }
        Ok(Publisher {
            hub: Arc::clone(self),
            stream,
            id,
            closed,
        })
    }

    /// Subscribes to `key`, whether or not it is being published now: the subscriber first
    /// receives the GOP cache (metadata, sequence headers, the frames since the last keyframe),
    /// then live frames, from this publisher and any later one.
    pub fn subscribe(self: &Arc<Self>, key: StreamKey) -> Subscription {
        let stream = self.stream(&key);
        let shared = Arc::new(SubscriberShared {
            inner: Mutex::new(SubscriberInner {
                queue: SubscriberQueue::new(self.config.queue.clone()),
                next: VecDeque::new(),
                config: self.config.queue.clone(),
                dropped_before: 0,
            }),
            notify: Notify::new(),
        });
        {
            let mut state = stream.lock();
            {
                let mut inner = shared.lock();
                for frame in state.gop.replay() {
                    inner.push(frame.clone());
                }
            }
            state.subscribers.push(Arc::clone(&shared));
        }
        Subscription {
            hub: Arc::clone(self),
            stream,
            shared,
        }
    }

    /// Whether `key` has a publisher now.
    pub fn is_publishing(&self, key: &StreamKey) -> bool {
        let streams = self.lock_map();
        streams
            .get(key)
            .is_some_and(|s| s.lock().publisher.is_some())
    }

    /// Disconnects the current publisher of `key`, if any. Returns whether there was one.
    pub fn kick(&self, key: &StreamKey) -> bool {
        let streams = self.lock_map();
        match streams
            .get(key)
            .and_then(|s| s.lock().publisher.as_ref().map(|p| p.closed.clone()))
        {
            Some(closed) => {
                closed.cancel();
                true
            }
            None => false,
        }
    }

    /// All streams that have a publisher or subscribers, sorted by key.
    pub fn list(&self) -> Vec<StreamInfo> {
        let now = Instant::now();
        let streams = self.lock_map();
        let mut out: Vec<StreamInfo> = streams.values().map(|s| s.info(now)).collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    fn stream(&self, key: &StreamKey) -> Arc<Stream> {
        let mut streams = self.lock_map();
        Arc::clone(streams.entry(key.clone()).or_insert_with(|| {
            Arc::new(Stream {
                key: key.clone(),
                state: Mutex::new(StreamState {
                    publisher: None,
                    gop: GopCache::new(self.config.gop.clone()),
                    subscribers: Vec::new(),
                    frames_in: 0,
                    frames_dropped_past: 0,
                }),
            })
        }))
    }

    /// Removes `key`'s entry once nobody publishes or subscribes.
    fn collect(&self, key: &StreamKey) {
        let mut streams = self.lock_map();
        if let Some(stream) = streams.get(key) {
            let state = stream.lock();
            if state.publisher.is_none() && state.subscribers.is_empty() {
                drop(state);
                streams.remove(key);
            }
        }
    }

    fn lock_map(&self) -> MutexGuard<'_, HashMap<StreamKey, Arc<Stream>>> {
        // A poisoned lock means a panic elsewhere while holding it; the map itself is still
        // structurally valid, so keep serving rather than cascading the panic.
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The right to publish one stream. Dropping it ends the publish: subscribers are told the
/// publisher left and the GOP cache is emptied.
#[derive(Debug)]
pub struct Publisher {
    hub: Arc<StreamHub>,
    stream: Arc<Stream>,
    id: u64,
    closed: CancellationToken,
}

impl Publisher {
    /// Hands one frame to the GOP cache and to every subscriber. Never waits.
    pub fn send(&self, frame: Frame) {
        let now = Instant::now();
        let mut state = self.stream.lock();
        state.frames_in += 1;
        if let Some(slot) = state.publisher.as_mut().filter(|p| p.id == self.id) {
            slot.stats.record(&frame, now);
        }
        state.gop.push(&frame);
        for sub in &state.subscribers {
            sub.lock().push(frame.clone());
            sub.notify.notify_one();
        }
    }

    /// Cancelled when the hub asks this publisher to go away (kick, forbid).
    pub fn close_signal(&self) -> CancellationToken {
        self.closed.clone()
    }

    pub fn key(&self) -> &StreamKey {
        &self.stream.key
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        {
            let mut state = self.stream.lock();
            if state.publisher.as_ref().is_some_and(|p| p.id == self.id) {
                state.publisher = None;
                state.gop.clear();
                for sub in &state.subscribers {
                    sub.lock().publisher_left();
                    sub.notify.notify_one();
                }
            }
        }
        self.hub.collect(&self.stream.key);
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Frame(Frame),
    /// The publisher went away. The subscription stays valid: a later publisher's frames follow.
    PublisherLeft,
}

/// One subscriber of a stream. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<StreamHub>,
    stream: Arc<Stream>,
    shared: Arc<SubscriberShared>,
}

impl Subscription {
    /// The next event, waiting for one. Cancel-safe.
    pub async fn recv(&self) -> StreamEvent {
        loop {
            if let Some(event) = self.try_recv() {
                return event;
            }
            self.shared.notify.notified().await;
        }
    }

    /// The next event if one is ready, in order: a publisher's frames, its `PublisherLeft`,
    /// then the next publisher's frames.
    pub fn try_recv(&self) -> Option<StreamEvent> {
        self.shared.lock().pop()
    }

    /// Whether the stream has a publisher now.
    pub fn is_publishing(&self) -> bool {
        self.stream.lock().publisher.is_some()
    }

    /// Frames this subscriber lost to the drop-to-keyframe policy.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped()
    }

    pub fn key(&self) -> &StreamKey {
        &self.stream.key
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        {
            let mut state = self.stream.lock();
            state.subscribers.retain(|s| !Arc::ptr_eq(s, &self.shared));
            state.frames_dropped_past += self.shared.lock().dropped();
        }
        self.hub.collect(&self.stream.key);
    }
}

#[derive(Debug)]
struct Stream {
    key: StreamKey,
    state: Mutex<StreamState>,
}

impl Stream {
    fn lock(&self) -> MutexGuard<'_, StreamState> {
        // See `StreamHub::lock_map` on poisoning.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn info(&self, now: Instant) -> StreamInfo {
        let state = self.lock();
        let live_drops: u64 = state.subscribers.iter().map(|s| s.lock().dropped()).sum();
        StreamInfo {
            key: self.key.clone(),
            publishing: state.publisher.is_some(),
            publish: state.publisher.as_ref().map(|p| p.stats.info(now)),
            subscribers: state.subscribers.len(),
            gop_cache_frames: state.gop.len(),
            gop_cache_bytes: state.gop.bytes(),
            frames_in: state.frames_in,
            frames_dropped: state.frames_dropped_past + live_drops,
        }
    }
}

#[derive(Debug)]
struct StreamState {
    publisher: Option<PublisherSlot>,
    gop: GopCache,
    subscribers: Vec<Arc<SubscriberShared>>,
    frames_in: u64,
    frames_dropped_past: u64,
}

#[derive(Debug)]
struct PublisherSlot {
    id: u64,
    closed: CancellationToken,
    stats: PublishStats,
}

#[derive(Debug)]
struct SubscriberShared {
    inner: Mutex<SubscriberInner>,
    notify: Notify,
}

impl SubscriberShared {
    fn lock(&self) -> MutexGuard<'_, SubscriberInner> {
        // See `StreamHub::lock_map` on poisoning.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One subscriber's queues: the current publisher's frames, then, for each later publisher
/// whose start the subscriber has not reached yet, a queue of its own (a `PublisherLeft`
/// comes out between them), so events come out in order.
#[derive(Debug)]
struct SubscriberInner {
    queue: SubscriberQueue,
    next: VecDeque<SubscriberQueue>,
    config: QueueConfig,
    /// Drops of queues already retired.
    dropped_before: u64,
}

/// Publisher changes a subscriber may lag behind before the oldest pending publisher's
/// frames are skipped.
const MAX_PENDING_PUBLISHERS: usize = 4;

impl SubscriberInner {
    fn push(&mut self, frame: Frame) {
        match self.next.back_mut() {
            Some(next) => next.push(frame),
            None => self.queue.push(frame),
        };
    }

    fn publisher_left(&mut self) {
        if self.next.len() >= MAX_PENDING_PUBLISHERS {
            // A subscriber this far behind loses a whole publisher's worth (counted) rather
            // than holding unbounded history.
            if let Some(skipped) = self.next.pop_front() {
                self.dropped_before += skipped.dropped() + skipped.len() as u64;
            }
        }
        self.next
            .push_back(SubscriberQueue::new(self.config.clone()));
    }

    fn pop(&mut self) -> Option<StreamEvent> {
        if let Some(frame) = self.queue.pop() {
            return Some(StreamEvent::Frame(frame));
        }
        let next = self.next.pop_front()?;
        self.dropped_before += self.queue.dropped();
        self.queue = next;
        Some(StreamEvent::PublisherLeft)
    }

    fn dropped(&self) -> u64 {
        self.dropped_before
            + self.queue.dropped()
            + self.next.iter().map(SubscriberQueue::dropped).sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_media::TagType;
    use bytes::Bytes;

    fn key() -> StreamKey {
        StreamKey::new("127.0.0.1", "live", "s")
    }

    fn video(dts: i64, key: bool) -> Frame {
        let first = if key { 0x17 } else { 0x27 };
        Frame::new(
            TagType::Video,
            dts,
            Bytes::from(vec![first, 1, 0, 0, 0, 0xaa]),
        )
    }

    #[test]
    fn one_publisher_per_stream() {
        let hub = StreamHub::new(HubConfig::default());
        let p = hub.publish(key()).unwrap();
        assert_eq!(
            hub.publish(key()).unwrap_err(),
            ClaimError::AlreadyPublishing(key())
        );
        drop(p);
        assert!(hub.publish(key()).is_ok());
    }

    #[test]
    fn late_subscriber_gets_gop_then_live() {
        let hub = StreamHub::new(HubConfig::default());
        let p = hub.publish(key()).unwrap();
        p.send(video(0, true));
        p.send(video(33, false));
        let s = hub.subscribe(key());
        p.send(video(66, false));
        let got: Vec<i64> = std::iter::from_fn(|| match s.try_recv() {
            Some(StreamEvent::Frame(f)) => Some(f.dts),
            _ => None,
        })
        .collect();
        assert_eq!(got, vec![0, 33, 66]);
    }

    #[test]
    fn publisher_leaving_is_reported_after_queued_frames_and_entry_is_collected() {
        let hub = StreamHub::new(HubConfig::default());
        let s = hub.subscribe(key());
        let p = hub.publish(key()).unwrap();
        p.send(video(0, true));
        drop(p);
        assert!(matches!(s.try_recv(), Some(StreamEvent::Frame(_))));
        assert_eq!(s.try_recv(), Some(StreamEvent::PublisherLeft));
        assert_eq!(s.try_recv(), None);
        assert_eq!(hub.list().len(), 1);
        drop(s);
        assert!(hub.list().is_empty());
    }

    #[test]
    fn a_new_publishers_frames_come_after_the_old_ones_left() {
        let hub = StreamHub::new(HubConfig::default());
        let s = hub.subscribe(key());
        let p = hub.publish(key()).unwrap();
        p.send(video(0, true));
        drop(p);
        let p = hub.publish(key()).unwrap();
        p.send(video(5, true));
        drop(p);
        let p = hub.publish(key()).unwrap();
        p.send(video(9, true));
        let events: Vec<StreamEvent> = std::iter::from_fn(|| s.try_recv()).collect();
        assert_eq!(events.len(), 5, "{events:?}");
        assert!(matches!(&events[0], StreamEvent::Frame(f) if f.dts == 0));
        assert_eq!(events[1], StreamEvent::PublisherLeft);
        assert!(matches!(&events[2], StreamEvent::Frame(f) if f.dts == 5));
        assert_eq!(events[3], StreamEvent::PublisherLeft);
        assert!(matches!(&events[4], StreamEvent::Frame(f) if f.dts == 9));
        assert_eq!(s.dropped(), 0);
    }

    #[test]
    fn list_shows_the_publish_its_players_and_gop_cache() {
        let hub = StreamHub::new(HubConfig::default());
        let origin = PublishOrigin {
            protocol: IngestProtocol::Srt,
            remote: "192.0.2.7:4000".parse().unwrap(),
        };
        let p = hub.publish_from(key(), origin).unwrap();
        p.send(video(0, true));
        p.send(video(40, false));
        let _s1 = hub.subscribe(key());
        let _s2 = hub.subscribe(key());
        let info = hub.list().remove(0);
        assert_eq!(info.publish.as_ref().unwrap().origin, Some(origin));
        assert_eq!(
            info.publish.as_ref().unwrap().video.as_ref().unwrap().codec,
            "h264"
        );
        assert_eq!((info.subscribers, info.frames_in), (2, 2));
        assert_eq!((info.gop_cache_frames, info.gop_cache_bytes), (2, 12));
        drop(p);
        let info = hub.list().remove(0);
        assert!(!info.publishing && info.publish.is_none());
        assert_eq!(info.gop_cache_frames, 0);
    }

    #[test]
    fn kick_cancels_the_publisher() {
        let hub = StreamHub::new(HubConfig::default());
        let p = hub.publish(key()).unwrap();
        assert!(hub.kick(&key()));
        assert!(p.closed.is_cancelled());
        drop(p);
        assert!(!hub.kick(&key()));
    }
}
