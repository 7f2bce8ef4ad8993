//! DescribeLiveStreamsOnlineList through the router, signed both ways as the SDKs send it: the
//! response shape the SDK model `LiveStreamOnlineInfo` reads, filters (AppName, StreamName
//! fuzzy or strict, StreamType), OnlyStream, paging, parameter validation with the provider's
//! codes, domain ownership and resource-level authorization.

mod support;

use axum::http::{Method, StatusCode};
use baton_api::common::time::format_utc;
use baton_api::{LiveStreamView, PublisherView};
use baton_domain::StreamPath;
use serde_json::{Value, json};
use support::{
    AK, AK_LIVE, CAPTURE_TIME, DOMAIN, DOMAIN_2, DOMAIN_B, Harness, SECRET, SECRET_LIVE, Sig,
};

const ONLINE: &str = "DescribeLiveStreamsOnlineList";

/// Request parameters.
type Params<'a> = [(&'a str, &'a str)];

fn stream(domain: &str, app: &str, name: &str, protocol: Option<&'static str>) -> LiveStreamView {
    LiveStreamView {
        path: StreamPath::new(domain, app, name),
        publisher: protocol.map(|protocol| PublisherView {
            protocol: Some(protocol),
            remote: Some("198.51.100.7:51234".parse().unwrap()),
            started_at: CAPTURE_TIME - 60,
            uptime_seconds: 60.0,
            video: (protocol == "rtmp").then(support::h264_720p_high),
            audio: Some(support::aac_lc_stereo()),
            fps: 29.6,
            bitrate_in_bps: 2_128_000,
            video_bitrate_bps: 2_000_000,
            audio_bitrate_bps: 128_000,
        }),
        players: 1,
        gop_cache_frames: 10,
        gop_cache_bytes: 10_000,
        frames_in: 100,
        frames_dropped: 0,
        forbidden_until: None,
    }
}

fn harness() -> Harness {
    let h = Harness::new();
    h.streams.set_live(vec![
        stream(DOMAIN, "live", "cam2", Some("srt")),
        stream(DOMAIN, "live", "cam", Some("rtmp")),
        stream(DOMAIN, "other", "watched", None),
        stream(DOMAIN_2, "live", "cam", Some("rtmp")),
        stream(DOMAIN_B, "live", "theirs", Some("rtmp")),
    ]);
    h
}

async fn online_as(
    h: &Harness,
    sig: Sig,
    key: (&str, &str),
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let req = h
        .build(sig, Method::POST, ONLINE, params)
        .finish(key.0, key.1);
    h.send(req).await
}

async fn online(h: &Harness, params: &[(&str, &str)]) -> (StatusCode, Value) {
    online_as(h, Sig::V3, (AK, SECRET), params).await
}

fn names(body: &Value) -> Vec<String> {
    body["OnlineInfo"]["LiveStreamOnlineInfo"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["AppName"].as_str().unwrap(),
                s["StreamName"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn publishing_streams_of_the_domain_as_the_sdk_model_reads_them() {
    let h = harness();
    let (status, mut body) = online(&h, &[("DomainName", DOMAIN)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["RequestId"].take().as_str().unwrap().len(), 36);
    assert_eq!(
        body,
        json!({
            "RequestId": null, "PageNum": 1, "PageSize": 2000, "TotalNum": 2, "TotalPage": 1,
            "OnlineInfo": {"LiveStreamOnlineInfo": [
                {
                    "DomainName": DOMAIN, "AppName": "live", "StreamName": "cam",
                    "PublishTime": format_utc(CAPTURE_TIME - 60),
                    "PublishUrl": format!("rtmp://{DOMAIN}/live/cam"),
                    "PublishDomain": DOMAIN, "PublishType": "edge", "Transcoded": "no",
                    "ClientIp": "198.51.100.7", "VideoCodecId": 7, "VideoDataRate": 2_000_000,
                    "FrameRate": 30, "Width": 1280, "Height": 720, "AudioCodecId": 10,
                    "AudioDataRate": 128_000,
                },
                {
                    "DomainName": DOMAIN, "AppName": "live", "StreamName": "cam2",
                    "PublishTime": format_utc(CAPTURE_TIME - 60),
                    "PublishUrl": format!("srt://{DOMAIN}?streamid=#!::h={DOMAIN},r=live/cam2,m=publish"),
                    "PublishDomain": DOMAIN, "PublishType": "edge", "Transcoded": "no",
                    "ClientIp": "198.51.100.7", "VideoDataRate": 2_000_000, "FrameRate": 30,
                    "AudioCodecId": 10, "AudioDataRate": 128_000,
                },
            ]},
        })
    );
}

#[tokio::test]
async fn filters_only_stream_and_pages() {
    let h = harness();
    let cases: [(&Params, &[&str]); 7] = [
        (&[("StreamName", "cam")], &["live/cam", "live/cam2"]),
        (&[("StreamName", "am2")], &["live/cam2"]),
        (
            &[("StreamName", "cam"), ("QueryType", "strict")],
            &["live/cam"],
        ),
        (&[("AppName", "other")], &[]),
        (&[("StreamType", "trans")], &[]),
        (
            &[("StreamType", "raw"), ("AppName", "live")],
            &["live/cam", "live/cam2"],
        ),
        (&[("PageSize", "1"), ("PageNum", "2")], &["live/cam2"]),
    ];
    for (extra, expected) in cases {
        let mut params = vec![("DomainName", DOMAIN)];
        params.extend_from_slice(extra);
        let (status, body) = online(&h, &params).await;
        assert_eq!(status, StatusCode::OK, "{extra:?}: {body}");
        assert_eq!(names(&body), expected, "{extra:?}");
    }
    let (_, body) = online(&h, &[("DomainName", DOMAIN), ("PageSize", "1")]).await;
    assert_eq!(
        (&body["TotalNum"], &body["TotalPage"]),
        (&json!(2), &json!(2))
    );
    let (_, body) = online(
        &h,
        &[
            ("DomainName", "LIVE.example.com"),
            ("OnlyStream", "yes"),
            ("StreamName", "cam2"),
        ],
    )
    .await;
    assert_eq!(
        body["OnlineInfo"]["LiveStreamOnlineInfo"],
        json!([{"DomainName": DOMAIN, "AppName": "live", "StreamName": "cam2",
                "PublishTime": format_utc(CAPTURE_TIME - 60)}])
    );
}

#[tokio::test]
async fn parameters_are_validated_with_the_providers_codes() {
    let h = harness();
    let cases: [(&Params, &str, &str); 9] = [
        (&[], "MissingDomainName", ""),
        (&[("DomainName", "a/b")], "InvalidParameter", "DomainName"),
        (
            &[("DomainName", DOMAIN), ("PageSize", "0")],
            "InvalidParameter",
            "PageSize",
        ),
        (
            &[("DomainName", DOMAIN), ("PageSize", "3001")],
            "InvalidParameter",
            "PageSize",
        ),
        (
            &[("DomainName", DOMAIN), ("PageNum", "x")],
            "InvalidParameter",
            "PageNum",
        ),
        (
            &[("DomainName", DOMAIN), ("StreamType", "mixed")],
            "InvalidParameter",
            "StreamType",
        ),
        (
            &[("DomainName", DOMAIN), ("QueryType", "regex")],
            "InvalidParameter",
            "QueryType",
        ),
        (
            &[("DomainName", DOMAIN), ("OnlyStream", "true")],
            "InvalidParameter",
            "OnlyStream",
        ),
        (
            &[("DomainName", DOMAIN), ("OrderBy", "name")],
            "InvalidParameter",
            "OrderBy",
        ),
    ];
    for (params, code, name) in cases {
        let (status, body) = online(&h, params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params:?}: {body}");
        assert_eq!(body["Code"], code, "{params:?}: {body}");
        assert!(body["Message"].as_str().unwrap().contains(name), "{body}");
    }
    // Another account's domain: the provider's answer for a domain that is not yours.
    let (status, body) = online(&h, &[("DomainName", DOMAIN_B)]).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidDomain.NotFound"))
    );
}

#[tokio::test]
async fn a_key_limited_to_one_domain_is_denied_the_others() {
    let h = harness();
    let one = (AK_LIVE, SECRET_LIVE);
    let (status, body) = online_as(&h, Sig::Rpc, one, &[("DomainName", DOMAIN)]).await;
    assert_eq!(
        (status, &body["TotalNum"]),
        (StatusCode::OK, &json!(2)),
        "{body}"
    );
    let (status, body) = online_as(&h, Sig::Rpc, one, &[("DomainName", DOMAIN_2)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["Code"], "Forbidden.RAM");
    assert!(
        body["Message"].as_str().unwrap().contains(&format!(
            "live:{ONLINE} on acs:cdn:*:acct-a:domain/{DOMAIN_2}"
        )),
        "{body}"
    );
}
