//! Garbage in: random queries, headers and bodies never make the API panic or answer 500;
//! every refusal is a 4xx with the error envelope.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use support::Harness;

/// Query fragments that steer requests deep into the pipeline (real parameter names, partly
/// valid values) mixed with noise.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Action=DescribeLivePullToPush".to_string()),
        Just("Action=CreateLivePullToPush".to_string()),
        Just("Action=ForbidLiveStream".to_string()),
        Just("Action=DescribeLiveStreamsBlockList".to_string()),
        Just("Action=DescribeLiveStreamsOnlineList".to_string()),
        Just("Version=2016-11-01".to_string()),
        Just("SignatureMethod=HMAC-SHA1".to_string()),
        Just("SignatureVersion=1.0".to_string()),
        Just("AccessKeyId=LTAI5tTestAccessKeyId".to_string()),
        Just("Timestamp=2026-11-22T19%3A07%3A58Z".to_string()),
        "SignatureNonce=[a-f0-9]{0,40}",
        "Signature=[A-Za-z0-9+/=%]{0,40}",
        "(Region|TaskId|SourceUrls|StartTime|PageSize|SourceUrls\\.[0-9]{1,3})=[^&]{0,30}",
        "[A-Za-z%+=.]{0,12}=[^&#]{0,20}",
        "[\\x20-\\x7e]{0,16}",
    ]
}

fn header() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("authorization".to_string()),
            Just("x-acs-action".to_string()),
            Just("x-acs-version".to_string()),
            Just("x-acs-date".to_string()),
            Just("x-acs-signature-nonce".to_string()),
            Just("x-acs-content-sha256".to_string()),
            Just("content-type".to_string()),
            Just("content-length".to_string()),
        ],
        prop_oneof![
            "ACS3-HMAC-SHA256 Credential=[A-Za-z0-9]{0,20},SignedHeaders=[a-z;-]{0,40},Signature=[0-9a-f]{0,64}",
            Just("application/x-www-form-urlencoded".to_string()),
            Just("DescribeLivePullToPush".to_string()),
            Just("2016-11-01".to_string()),
            "[\\x21-\\x7e]{0,30}",
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_requests_are_refused_cleanly(
        post in any::<bool>(),
        fragments in prop::collection::vec(fragment(), 0..12),
        headers in prop::collection::vec(header(), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // The harness's replay protection spawns its writer on this runtime.
        let _entered = runtime.enter();
        let h = Harness::new();
        let uri = format!("/?{}", fragments.join("&"));
        let Ok(uri) = uri.parse::<axum::http::Uri>() else {
            // Not a URI hyper would have delivered.
            return Ok(());
        };
        let mut builder = Request::builder()
            .method(if post { Method::POST } else { Method::GET })
            .uri(uri);
        for (name, value) in &headers {
            if name == "content-length" {
                continue;
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(Body::from(body)).unwrap();
        let (status, json) = runtime.block_on(h.send(request));
        prop_assert!(status.is_client_error(), "{status} {json}");
        prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR);
        for key in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
            prop_assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
    }
}

/// A value for a parameter: plausible, boundary or noise.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("live".to_string()),
        Just("rtmp".to_string()),
        Just("cn-shanghai".to_string()),
        Just(r#"["rtmp://h/a/b"]"#.to_string()),
        Just("2026-11-22T20:00:00Z".to_string()),
        Just("live.example.com".to_string()),
        Just("publisher".to_string()),
        Just("*".to_string()),
        Just("yes".to_string()),
        "-?[0-9]{1,20}",
        "\\[(\"[\\x20-\\x7e]{0,12}\",?){0,3}\\]",
        "[a-z]{1,8}://[\\x21-\\x7e]{0,20}",
        "\\PC{0,40}",
    ]
}

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Region",
        "TaskId",
        "TaskName",
        "SourceType",
        "SourceProtocol",
        "SourceUrls",
        "SourceUrls.1",
        "SourceUrls.2",
        "DstUrl",
        "StartTime",
        "EndTime",
        "CallbackUrl",
        "RepeatNumber",
        "RetryCount",
        "RetryInterval",
        "FileIndex",
        "Offset",
        "AuthKey",
        "PageSize",
        "PageNumber",
        "OwnerId",
        "Format",
        "DomainName",
        "AppName",
        "StreamName",
        "LiveStreamType",
        "ResumeTime",
        "Oneshot",
        "PageNum",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn signed_requests_with_random_parameters_never_fail_inside(
        action in prop::sample::select(vec![
            "CreateLivePullToPush", "DescribeLivePullToPush", "DescribeLivePullToPushList",
            "UpdateLivePullToPush", "StopLivePullToPush", "RestartLivePullToPush",
            "DeleteLivePullToPush", "ForbidLiveStream", "ResumeLiveStream",
            "DescribeLiveStreamsBlockList", "DescribeLiveStreamsOnlineList",
        ]),
        v3 in any::<bool>(),
        params in prop::collection::btree_map(name(), value(), 0..12),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // The harness's replay protection spawns its writer on this runtime.
        let _entered = runtime.enter();
        let h = Harness::new();
        let sig = if v3 { support::Sig::V3 } else { support::Sig::Rpc };
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let request = h
            .build(sig, Method::POST, action, &pairs)
            .finish(support::AK, support::SECRET);
        let (status, json) = runtime.block_on(h.send(request));
        prop_assert!(status == StatusCode::OK || status.is_client_error(), "{status} {json}");
        if status != StatusCode::OK {
            let code = json["Code"].as_str().unwrap_or_default();
            // Authentication passed: every refusal is about the parameters, the task or the
            // domain (`InvalidDomain.NotFound`).
            prop_assert!(
                code.starts_with("Missing")
                    || code.starts_with("Invalid")
                    || code.starts_with("CodeTask"),
                "{code}: {json}"
            );
        }
    }
}
