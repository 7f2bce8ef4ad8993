//! The stream a source URL reaches on Baton's own ingest, computed without connecting
//! (`ingest::play_key`, `http_flv::play_key`), is the one the ingest and the play listener
//! derive from the requests Baton's clients actually send.

use std::sync::Arc;
use std::time::Duration;

use baton_net::RtmpUrl;
use baton_net::http_flv::play_key as flv_key;
use baton_net::hub::{HubConfig, StreamHub, StreamKey};
use baton_net::ingest::{AllowAll, Ingest, IngestConfig, play_key};
use baton_net::testing::{MemoryNetwork, publish_test_stream};

#[tokio::test(start_paused = true)]
async fn rtmp_urls_name_the_stream_their_publish_claims() {
    for url in [
        "rtmp://mem/live/src",
        "rtmp://Mem.Example:1936/live/src?key=1",
        "rtmp://mem/live/src?vhost=push.example.com",
        "rtmp://mem/live?vhost=app.example.com/src",
        "rtmp://[::1]:1935/a/b/src",
    ] {
        let hub = StreamHub::new(HubConfig::default());
        let net = MemoryNetwork::new(Ingest::new(
            IngestConfig::default(),
            Arc::clone(&hub),
            Arc::new(AllowAll),
        ));
        let key = play_key(&RtmpUrl::parse(url).unwrap());
        let publisher = {
            let (net, url) = (Arc::clone(&net), url.to_string());
            tokio::spawn(async move { publish_test_stream(&net, &url, 2, 0).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(hub.is_publishing(&key), "{url}: {key} not published");
        publisher.await.unwrap().unwrap();
    }
}

#[test]
fn http_flv_urls_name_the_stream_the_play_listener_serves() {
    let key = |u: &str| flv_key(&reqwest::Url::parse(u).unwrap());
    assert_eq!(
        key("http://Play.Example.com:8081/live/s.flv"),
        Some(StreamKey::new("play.example.com", "live", "s"))
    );
    assert_eq!(
        key("http://127.0.0.1:8081/a/b/s.flv?vhost=Push.Example.com&x=1"),
        Some(StreamKey::new("push.example.com", "a/b", "s"))
    );
    assert_eq!(
        key("http://[::1]:8081/live/s.flv"),
        Some(StreamKey::new("::1", "live", "s"))
    );
    assert_eq!(key("http://h/live/s.mp4"), None);
    assert_eq!(key("http://h/s.flv"), None);
    assert_eq!(key("http://h/live/a%20b.flv"), None);
}
