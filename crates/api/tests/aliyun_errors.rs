//! Error paths: parameter validation tables (each field missing / wrong type / out of range /
//! too long → code and status), routing, authentication (unknown key, wrong secret, stale and
//! future times, replayed nonces), authorization, throttling (paused time), limits, and the
//! error envelope itself.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use support::{AK, AK_RO, CAPTURE_TIME, Harness, SECRET, SECRET_RO, Sig, borrow, create_params};

const HOUR: i64 = 3600;

/// How a case changes the valid Create parameters.
enum Change {
    Remove(&'static str),
    Set(&'static str, String),
}

fn long(prefix: &str, total: usize) -> String {
    format!("{prefix}{}", "a".repeat(total - prefix.len()))
}

async fn create_with(h: &Harness, sig: Sig, change: &Change) -> (StatusCode, Value) {
    let mut p = create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR);
    match change {
        Change::Remove(name) => p.retain(|(k, _)| k != name),
        Change::Set(name, value) => match p.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.clone(),
            None => p.push((name.to_string(), value.clone())),
        },
    }
    let req = h
        .build(sig, Method::POST, "CreateLivePullToPush", &borrow(&p))
        .finish(AK, SECRET);
    h.send(req).await
}

#[tokio::test]
async fn create_parameter_table() {
    use Change::{Remove, Set};
    let s = |v: &str| v.to_string();
    let cases: Vec<(Change, &str)> = vec![
        (Remove("Region"), "MissingRegion"),
        (Set("Region", s("")), "MissingRegion"),
        (Set("Region", s("mars-1")), "InvalidParameter"),
        (Remove("SourceType"), "MissingSourceType"),
        (Set("SourceType", s("file")), "InvalidParameter"),
        (Remove("SourceProtocol"), "MissingSourceProtocol"),
        (Set("SourceProtocol", s("ftp")), "InvalidParameter"),
        (Remove("SourceUrls"), "MissingSourceUrls"),
        (Set("SourceUrls", s("rtmp://h/a/b")), "InvalidParameter"),
        (Set("SourceUrls", s("[]")), "InvalidParameter"),
        (
            Set("SourceUrls", s(r#"["rtmp://h/a/b","rtmp://h/a/c"]"#)),
            "InvalidParameter",
        ),
        (
            Set("SourceUrls", s(r#"["http://h/a.flv"]"#)),
            "InvalidParameter",
        ),
        (Set("SourceUrls", s(r#"["rtmp://"]"#)), "InvalidParameter"),
        (
            Set(
                "SourceUrls",
                format!(r#"["{}"]"#, long("rtmp://h/a/", 2001)),
            ),
            "InvalidParameter",
        ),
        (Remove("DstUrl"), "MissingDstUrl"),
        (Set("DstUrl", s("http://h/a")), "InvalidParameter"),
        (Set("DstUrl", s("not a url")), "InvalidParameter"),
        (Set("DstUrl", long("rtmp://h/a/", 2001)), "InvalidParameter"),
        (Remove("StartTime"), "MissingStartTime"),
        (
            Set("StartTime", s("2026-11-22 19:00:00")),
            "InvalidParameter",
        ),
        (Set("StartTime", s("1795374478")), "InvalidParameter"),
        (Remove("EndTime"), "MissingEndTime"),
        (
            Set("EndTime", s("2026-11-22T19:07:00+08:00")),
            "InvalidParameter",
        ),
        (
            Set("EndTime", s("2026-11-22T19:00:00Z")),
            "InvalidParam.CodeIllegalDuration",
        ),
        (Set("TaskName", "n".repeat(256)), "InvalidParameter"),
        (Set("CallbackUrl", s("ftp://h/cb")), "InvalidParameter"),
        (
            Set("CallbackUrl", long("http://h/", 2001)),
            "InvalidParameter",
        ),
        (Set("RepeatNumber", s("-2")), "InvalidParameter"),
        (Set("RepeatNumber", s("once")), "InvalidParameter"),
        (Set("RetryCount", s("-1")), "InvalidParameter"),
        (Set("RetryCount", s("101")), "InvalidParameter"),
        (Set("RetryCount", s("3.0")), "InvalidParameter"),
        (Set("RetryInterval", s("59")), "InvalidParameter"),
        (Set("RetryInterval", s("301")), "InvalidParameter"),
        (Set("FileIndex", s("-1")), "InvalidParameter"),
        (Set("Offset", s("-1")), "InvalidParameter"),
        (Set("Offset", s("99999999999")), "InvalidParameter"),
        (Set("AuthKey", "k".repeat(2001)), "InvalidParameter"),
        (
            Set("NotifyItemSwitch", "k".repeat(2001)),
            "InvalidParameter",
        ),
        (Set("OwnerId", s("me")), "InvalidParameter"),
        (Set("Format", s("XML")), "InvalidParameter"),
    ];
    let h = Harness::new();
    for sig in [Sig::Rpc, Sig::V3] {
        for (change, code) in &cases {
            let (status, body) = create_with(&h, sig, change).await;
            let what = match change {
                Change::Remove(n) => format!("without {n}"),
                Change::Set(n, v) => format!("{n}={}", v.chars().take(40).collect::<String>()),
            };
            assert_eq!(status, StatusCode::BAD_REQUEST, "{sig:?} {what}: {body}");
            assert_eq!(body["Code"], *code, "{sig:?} {what}: {body}");
        }
    }
    // Nothing was created by any of them.
    let (_, body) = h
        .call(
            Sig::V3,
            "DescribeLivePullToPushList",
            &[("Region", "cn-shanghai")],
        )
        .await;
    assert_eq!(body["Total"], 0);
    // The boundaries themselves are accepted.
    for change in [
        Change::Set("RetryInterval", "300".into()),
        Change::Set("RetryCount", "0".into()),
        Change::Set("RepeatNumber", "-1".into()),
        Change::Set("TaskName", "n".repeat(255)),
        Change::Set("CallbackUrl", long("https://h/", 2000)),
        Change::Set("SourceProtocol", "RTMP".into()),
        Change::Set("SourceUrls.1", "x".into()),
    ] {
        let (status, body) = create_with(&h, Sig::V3, &change).await;
        let ok = !matches!(&change, Change::Set("SourceUrls.1", _));
        assert_eq!(status == StatusCode::OK, ok, "{body}");
    }
    // The expired end: refused by the service's clock check.
    let mut p = create_params(CAPTURE_TIME - 2 * HOUR, CAPTURE_TIME - HOUR);
    p.retain(|(k, _)| k != "CallbackUrl");
    let req = h
        .build(Sig::Rpc, Method::POST, "CreateLivePullToPush", &borrow(&p))
        .finish(AK, SECRET);
    let (_, body) = h.send(req).await;
    assert_eq!(body["Code"], "InvalidParam.CodeIllegalDuration");
}

#[tokio::test]
async fn source_urls_repeat_list_is_tolerated() {
    let h = Harness::new();
    let mut p = create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR);
    p.retain(|(k, _)| k != "SourceUrls");
    p.push((
        "SourceUrls.1".into(),
        "rtmp://source.example.com/live/src".into(),
    ));
    let req = h
        .build(Sig::V3, Method::POST, "CreateLivePullToPush", &borrow(&p))
        .finish(AK, SECRET);
    let (status, body) = h.send(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn by_id_and_list_parameter_tables() {
    let h = Harness::new();
    let id56 = "a".repeat(56);
    let by_id: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("TaskId", "abc")], "MissingRegion"),
        (vec![("Region", "cn-shanghai")], "MissingTaskId"),
        (
            vec![("Region", "cn-shanghai"), ("TaskId", "")],
            "MissingTaskId",
        ),
        (
            vec![("Region", "cn-shanghai"), ("TaskId", "a b")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("TaskId", "a/../b")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("TaskId", &id56)],
            "InvalidParameter",
        ),
        (
            vec![("Region", "xx"), ("TaskId", "abc")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("TaskId", "abc")],
            "CodeTaskNotExist",
        ),
    ];
    for action in [
        "DescribeLivePullToPush",
        "StopLivePullToPush",
        "RestartLivePullToPush",
        "DeleteLivePullToPush",
        "UpdateLivePullToPush",
    ] {
        for (params, code) in &by_id {
            let (status, body) = h.call(Sig::Rpc, action, params).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{action} {params:?}");
            assert_eq!(body["Code"], *code, "{action} {params:?}: {body}");
        }
    }
    let update: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("StartTime", "tomorrow")], "InvalidParameter"),
        (
            vec![
                ("EndTime", "2026-11-22T19:00:00Z"),
                ("StartTime", "2026-11-22T20:00:00Z"),
            ],
            "InvalidParam.CodeIllegalDuration",
        ),
        (vec![("RepeatNumber", "-5")], "InvalidParameter"),
        (vec![("CallbackUrl", "mailto:a@b")], "InvalidParameter"),
        (vec![("SourceUrls", "{}")], "InvalidParameter"),
        (vec![("RetryInterval", "1000")], "InvalidParameter"),
    ];
    for (extra, code) in &update {
        let mut p = vec![("Region", "cn-shanghai"), ("TaskId", "abc")];
        p.extend_from_slice(extra);
        let (status, body) = h.call(Sig::V3, "UpdateLivePullToPush", &p).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*code)),
            "{extra:?}"
        );
    }
    let list: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "MissingRegion"),
        (
            vec![("Region", "cn-shanghai"), ("PageSize", "0")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("PageSize", "101")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("PageSize", "ten")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("PageNumber", "0")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("PageNumber", "2147483648")],
            "InvalidParameter",
        ),
        (
            vec![("Region", "cn-shanghai"), ("TaskId", "a%b")],
            "InvalidParameter",
        ),
    ];
    for (params, code) in &list {
        let (status, body) = h.call(Sig::V3, "DescribeLivePullToPushList", params).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*code)),
            "{params:?}"
        );
    }
    let (status, _) = h
        .call(
            Sig::V3,
            "DescribeLivePullToPushList",
            &[
                ("Region", "cn-shanghai"),
                ("PageSize", "100"),
                ("PageNumber", "2147483647"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

fn raw(method: Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn routing_errors() {
    let h = Harness::new();
    let cases = [
        ("/", StatusCode::BAD_REQUEST, "MissingAction"),
        (
            "/?Version=2016-11-01",
            StatusCode::BAD_REQUEST,
            "MissingAction",
        ),
        (
            "/?Action=DescribeLivePullToPush",
            StatusCode::BAD_REQUEST,
            "MissingVersion",
        ),
        (
            "/?Action=DescribeLivePullToPush&Version=2014-11-11",
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
        ),
        (
            "/?Action=DescribeLiveStreams&Version=2016-11-01",
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
        ),
        (
            "/?Action=describelivepulltopush&Version=2016-11-01",
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
        ),
        (
            "/?Action=DescribeLivePullToPush&Version=2016-11-01",
            StatusCode::BAD_REQUEST,
            "MissingSignature",
        ),
        ("/?Action=%ZZ", StatusCode::BAD_REQUEST, "InvalidParameter"),
    ];
    for (uri, status, code) in cases {
        let (s, body) = h.send(raw(Method::GET, uri)).await;
        assert_eq!(
            (s, body["Code"].as_str()),
            (status, Some(code)),
            "{uri}: {body}"
        );
    }
    // V3 names the action in a header; an unknown one is 404 too.
    let req = h
        .build(Sig::V3, Method::GET, "SetLiveStreamBlock", &[])
        .finish(AK, SECRET);
    let (s, body) = h.send(req).await;
    assert_eq!(
        (s, body["Code"].as_str()),
        (StatusCode::NOT_FOUND, Some("InvalidAction.NotFound"))
    );
    let mut req = h.build(Sig::Rpc, Method::GET, "DescribeLivePullToPush", &[]);
    req.version = "2020-01-01".into();
    let (_, body) = h.send(req.finish(AK, SECRET)).await;
    assert_eq!(body["Code"], "InvalidVersion");
}

#[tokio::test]
async fn authentication_errors() {
    let h = Harness::new();
    let params = [("Region", "cn-shanghai"), ("TaskId", "abc")];
    for sig in [Sig::Rpc, Sig::V3] {
        let describe = || h.build(sig, Method::GET, "DescribeLivePullToPush", &params);
        // Authenticated: gets as far as the service.
        let (_, body) = h.send(describe().finish(AK, SECRET)).await;
        assert_eq!(body["Code"], "CodeTaskNotExist", "{sig:?}");

        let (s, body) = h.send(describe().finish("LTAINoSuchKey", SECRET)).await;
        assert_eq!(
            (s, body["Code"].as_str()),
            (StatusCode::NOT_FOUND, Some("InvalidAccessKeyId.NotFound")),
            "{sig:?}"
        );
        assert_eq!(body["Message"], "Specified access key is not found.");

        let (s, body) = h.send(describe().finish(AK, "WrongSecret0123456789")).await;
        assert_eq!(
            (s, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("SignatureDoesNotMatch")),
            "{sig:?}"
        );
        let message = body["Message"].as_str().unwrap();
        let (_, sts) = message.split_once(':').expect("a colon, for the old SDK");
        match sig {
            Sig::Rpc => assert!(sts.starts_with("GET&%2F&AccessKeyId%3D"), "{sts}"),
            Sig::V3 => assert!(sts.starts_with("ACS3-HMAC-SHA256\n"), "{sts}"),
        }

        // Request times: 15 minutes either way are accepted, more is not.
        for (offset, code) in [
            (-15 * 60, None),
            (15 * 60, None),
            (-15 * 60 - 1, Some("InvalidTimeStamp.Expired")),
            (15 * 60 + 1, Some("InvalidTimeStamp.Expired")),
        ] {
            let mut req = describe();
            req.time = baton_api::common::time::format_utc(CAPTURE_TIME + offset);
            let (_, body) = h.send(req.finish(AK, SECRET)).await;
            assert_eq!(
                body["Code"].as_str(),
                code.or(Some("CodeTaskNotExist")),
                "{sig:?} {offset}"
            );
        }
        let mut req = describe();
        req.time = "2026-11-22T19:07:58.123Z".into();
        let (_, body) = h.send(req.finish(AK, SECRET)).await;
        assert_eq!(body["Code"], "InvalidTimeStamp.Format");

        // The same nonce again (a replay, or a client that reuses nonces).
        let req = describe();
        let (_, first) = h.send(req.clone().finish(AK, SECRET)).await;
        assert_eq!(first["Code"], "CodeTaskNotExist");
        let (s, body) = h.send(req.clone().finish(AK, SECRET)).await;
        assert_eq!(
            (s, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("SignatureNonceUsed"))
        );
        // Another key may use the same nonce.
        let (_, body) = h
            .send(req.clone().finish(support::AK_B, support::SECRET_B))
            .await;
        assert_eq!(body["Code"], "CodeTaskNotExist");
        // A wrongly signed request does not burn a nonce.
        let req = describe();
        let (_, body) = h
            .send(req.clone().finish(AK, "WrongSecret0123456789"))
            .await;
        assert_eq!(body["Code"], "SignatureDoesNotMatch");
        let (_, body) = h.send(req.finish(AK, SECRET)).await;
        assert_eq!(body["Code"], "CodeTaskNotExist");
    }
}

#[tokio::test]
async fn a_replay_after_the_window_is_expired_not_accepted() {
    let h = Harness::new();
    let req = h.build(
        Sig::Rpc,
        Method::GET,
        "DescribeLivePullToPush",
        &[("Region", "cn-shanghai"), ("TaskId", "abc")],
    );
    let (_, body) = h.send(req.clone().finish(AK, SECRET)).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    h.clock.advance(15 * 60 + 1);
    let (_, body) = h.send(req.finish(AK, SECRET)).await;
    assert_eq!(body["Code"], "InvalidTimeStamp.Expired");
}

#[tokio::test]
async fn malformed_signatures() {
    let h = Harness::new();
    let base = "Action=DescribeLivePullToPush&Version=2016-11-01&Region=cn-shanghai&TaskId=abc&Timestamp=2026-11-22T19%3A07%3A58Z&SignatureNonce=n1&AccessKeyId=LTAI5tTestAccessKeyId&Signature=AAAA";
    let cases = [
        (
            format!("{base}&SignatureVersion=1.0"),
            "MissingSignatureMethod",
        ),
        (
            format!("{base}&SignatureVersion=1.0&SignatureMethod=HMAC-SHA256"),
            "IncompleteSignature",
        ),
        (
            format!("{base}&SignatureMethod=HMAC-SHA1"),
            "MissingSignatureVersion",
        ),
        (
            format!("{base}&SignatureMethod=HMAC-SHA1&SignatureVersion=2.0"),
            "IncompleteSignature",
        ),
        (
            format!("{base}&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0"),
            "SignatureDoesNotMatch",
        ),
        (
            format!("{base}&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0")
                .replace("&SignatureNonce=n1", ""),
            "MissingSignatureNonce",
        ),
        (
            format!("{base}&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0")
                .replace("&AccessKeyId=LTAI5tTestAccessKeyId", ""),
            "MissingAccessKeyId",
        ),
    ];
    for (query, code) in cases {
        let (s, body) = h.send(raw(Method::GET, &format!("/?{query}"))).await;
        assert_eq!(
            (s, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{query}"
        );
    }
    // V3: another algorithm, a required header left unsigned.
    let req = h
        .build(
            Sig::V3,
            Method::GET,
            "DescribeLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", "abc")],
        )
        .finish(AK, SECRET);
    let (mut parts, body) = req.into_parts();
    let auth = parts.headers["authorization"].to_str().unwrap().to_string();
    parts.headers.insert(
        "authorization",
        auth.replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3")
            .parse()
            .unwrap(),
    );
    let (_, b) = h.send(Request::from_parts(parts.clone(), body)).await;
    assert_eq!(b["Code"], "IncompleteSignature");
    parts.headers.insert(
        "authorization",
        auth.replace("x-acs-date;", "").parse().unwrap(),
    );
    let (_, b) = h
        .send(Request::from_parts(parts.clone(), Body::empty()))
        .await;
    assert_eq!(b["Code"], "IncompleteSignature");
    parts
        .headers
        .insert("authorization", auth.clone().parse().unwrap());
    parts.headers.insert("x-acs-extra", "1".parse().unwrap());
    let (_, b) = h.send(Request::from_parts(parts, Body::empty())).await;
    assert_eq!(b["Code"], "IncompleteSignature");
}

#[tokio::test]
async fn policy_denial_is_403() {
    let h = Harness::new();
    let p = [("Region", "cn-shanghai"), ("TaskId", "abc")];
    let req = h
        .build(Sig::V3, Method::GET, "DescribeLivePullToPush", &p)
        .finish(AK_RO, SECRET_RO);
    let (_, body) = h.send(req).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    let req = h
        .build(Sig::V3, Method::GET, "StopLivePullToPush", &p)
        .finish(AK_RO, SECRET_RO);
    let (s, body) = h.send(req).await;
    assert_eq!(
        (s, body["Code"].as_str()),
        (StatusCode::FORBIDDEN, Some("Forbidden.RAM"))
    );
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("live:StopLivePullToPush")
    );
}

#[tokio::test(start_paused = true)]
async fn ten_requests_per_second_per_account_and_action() {
    assert_eq!(baton_api::ApiConfig::default().actions_per_second, 10);
    let h = Harness::with_config(|_| {});
    let p = [("Region", "cn-shanghai"), ("TaskId", "abc")];
    for i in 0..10 {
        let (_, body) = h.call(Sig::Rpc, "DescribeLivePullToPush", &p).await;
        assert_eq!(body["Code"], "CodeTaskNotExist", "request {i}");
    }
    let (s, body) = h.call(Sig::Rpc, "DescribeLivePullToPush", &p).await;
    assert_eq!(
        (s, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Throttling.User"))
    );
    assert_eq!(
        body["Message"],
        "Request was denied due to user flow control."
    );
    // Another action of the same account, and the same action of another account, are not
    // affected.
    let (_, body) = h.call(Sig::Rpc, "StopLivePullToPush", &p).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    let req = h
        .build(Sig::Rpc, Method::GET, "DescribeLivePullToPush", &p)
        .finish(support::AK_B, support::SECRET_B);
    let (_, body) = h.send(req).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    // A tenth of a second later, one more.
    tokio::time::advance(Duration::from_millis(100)).await;
    let (_, body) = h.call(Sig::Rpc, "DescribeLivePullToPush", &p).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    let (_, body) = h.call(Sig::Rpc, "DescribeLivePullToPush", &p).await;
    assert_eq!(body["Code"], "Throttling.User");
    // A throttled request is authenticated first: a bad signature is still a bad signature.
    let req = h
        .build(Sig::Rpc, Method::GET, "DescribeLivePullToPush", &p)
        .finish(AK, "WrongSecret0123456789");
    let (_, body) = h.send(req).await;
    assert_eq!(body["Code"], "SignatureDoesNotMatch");
    // The rate is configurable.
    let h = Harness::with_config(|c| c.actions_per_second = 2);
    for expected in ["CodeTaskNotExist", "CodeTaskNotExist", "Throttling.User"] {
        let (_, body) = h.call(Sig::V3, "DescribeLivePullToPush", &p).await;
        assert_eq!(body["Code"], expected);
    }
}

#[tokio::test]
async fn limits() {
    // A key over its share of spent nonces is refused rather than forgotten: as a caller over
    // its flow control, and only that key.
    let h = Harness::with_config(|c| {
        support::unthrottled(c);
        c.replay_share_per_key = 2;
    });
    let p = [("Region", "cn-shanghai"), ("TaskId", "abc")];
    for expected in ["CodeTaskNotExist", "CodeTaskNotExist", "Throttling.User"] {
        let (s, body) = h.call(Sig::V3, "DescribeLivePullToPush", &p).await;
        assert_eq!(
            (s, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(expected))
        );
    }
    let req = h
        .build(Sig::Rpc, Method::GET, "DescribeLivePullToPush", &p)
        .finish(support::AK_B, support::SECRET_B);
    let (_, body) = h.send(req).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    // Bodies: too large, or not a form.
    let h = Harness::with_config(|c| c.max_body_bytes = 64);
    let mut req = h.build(Sig::Rpc, Method::POST, "DescribeLivePullToPushList", &[]);
    req.form = vec![
        ("Region".into(), "cn-shanghai".into()),
        ("TaskName".into(), "x".repeat(100)),
    ];
    let (s, body) = h.send(req.finish(AK, SECRET)).await;
    assert_eq!(
        (s, body["Code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("RequestEntityTooLarge"))
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/?Action=DescribeLivePullToPushList&Version=2016-11-01")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (s, body) = h.send(req).await;
    assert_eq!(
        (s, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
    );
}

#[tokio::test]
async fn error_envelope() {
    let h = Harness::with_config(|c| {
        c.recommend_url = Some("https://baton.example/errors?q={code}&id={request_id}".into())
    });
    let req = h
        .build(
            Sig::V3,
            Method::GET,
            "DescribeLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", "abc")],
        )
        .finish(AK, SECRET);
    let response = tower::ServiceExt::oneshot(h.router.clone(), req)
        .await
        .unwrap();
    let header_id = response.headers()["x-acs-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["Code", "HostId", "Message", "Recommend", "RequestId"]
    );
    assert_eq!(body["RequestId"], header_id.as_str());
    assert_eq!(body["HostId"], "live.test");
    assert_eq!(
        body["Recommend"],
        format!("https://baton.example/errors?q=CodeTaskNotExist&id={header_id}")
    );
}
