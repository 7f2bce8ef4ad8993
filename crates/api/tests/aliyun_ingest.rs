//! The three ingest-control actions (ForbidLiveStream, ResumeLiveStream,
//! DescribeLiveStreamsBlockList) through the router, signed both ways and sent as the SDKs
//! send them (POST, parameters in the query): response shapes (exact JSON, as the SDK models
//! read them), parameter validation, domain ownership, the block quota, paging, per-action
//! throttling, and resource-level authorization.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use baton_api::common::time::format_utc;
use baton_api::{StreamError, StreamService};
use baton_domain::ingest::default_resume_at;
use baton_domain::{AccountId, AppSelector, BlockList, BlockQuery, Page, StreamPath, UnixTime};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use support::{
    AK, AK_B, AK_LIVE, AK_RO, AK_WILD, CAPTURE_TIME, DOMAIN, DOMAIN_2, DOMAIN_B, DOMAIN_NET,
    Harness, SECRET, SECRET_B, SECRET_LIVE, SECRET_RO, SECRET_WILD, Sig,
};

/// Request parameters.
type Params<'a> = [(&'a str, &'a str)];

const FORBID: &str = "ForbidLiveStream";
const RESUME: &str = "ResumeLiveStream";
const LIST: &str = "DescribeLiveStreamsBlockList";

/// Sends `action` as `key` (id, secret), POST with the parameters in the query.
async fn send_as(
    h: &Harness,
    sig: Sig,
    key: (&str, &str),
    action: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let req = h
        .build(sig, Method::POST, action, params)
        .finish(key.0, key.1);
    h.send(req).await
}

/// Sends `action` as account A.
async fn send(h: &Harness, sig: Sig, action: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    send_as(h, sig, (AK, SECRET), action, params).await
}

fn forbid_params<'a>(domain: &'a str, app: &'a str, stream: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DomainName", domain),
        ("AppName", app),
        ("StreamName", stream),
        ("LiveStreamType", "publisher"),
    ]
}

async fn forbid(h: &Harness, domain: &str, app: &str, stream: &str) {
    let (status, body) = send(h, Sig::V3, FORBID, &forbid_params(domain, app, stream)).await;
    assert_eq!(status, StatusCode::OK, "{domain}/{app}/{stream}: {body}");
}

async fn list(h: &Harness, domain: &str, extra: &[(&str, &str)]) -> Value {
    let mut p = vec![("DomainName", domain)];
    p.extend_from_slice(extra);
    let (status, body) = send(h, Sig::Rpc, LIST, &p).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn urls(body: &Value) -> Vec<&str> {
    body["StreamUrls"]["StreamUrl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

fn path(domain: &str, app: &str, stream: &str) -> StreamPath {
    StreamPath::new(domain, app, stream)
}

fn acct_a() -> AccountId {
    AccountId("acct-a".into())
}

#[tokio::test]
async fn forbid_list_resume_shapes() {
    for sig in [Sig::Rpc, Sig::V3] {
        let h = Harness::new();
        let (status, body) = send(&h, sig, FORBID, &forbid_params(DOMAIN, "live", "s1")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"RequestId": body["RequestId"]}));
        let rid = body["RequestId"].as_str().unwrap();
        assert_eq!(rid.len(), 36);
        assert_eq!(rid, rid.to_ascii_uppercase());
        assert_eq!(h.streams.kicks(), [path(DOMAIN, "live", "s1")]);
        let blocks = h.streams.blocks(&acct_a());
        assert_eq!(blocks.len(), 1);
        // No ResumeTime: six calendar months.
        assert_eq!(blocks[0].resume_at, default_resume_at(CAPTURE_TIME));

        let (status, body) = send(&h, sig, LIST, &[("DomainName", DOMAIN)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({
                "RequestId": body["RequestId"],
                "DomainName": DOMAIN,
                "PageNum": 1,
                "PageSize": 2000,
                "TotalNum": 1,
                "TotalPage": 1,
                "StreamUrls": {"StreamUrl": ["live.example.com/live/s1"]},
            })
        );

        let resume = [
            ("DomainName", DOMAIN),
            ("LiveStreamType", "publisher"),
            ("AppName", "live"),
            ("StreamName", "s1"),
        ];
        let (status, body) = send(&h, sig, RESUME, &resume).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"RequestId": body["RequestId"]}));
        assert!(h.streams.blocks(&acct_a()).is_empty());
        // Resuming a stream that is not forbidden succeeds.
        let (status, _) = send(&h, sig, RESUME, &resume).await;
        assert_eq!(status, StatusCode::OK);

        let body = list(&h, DOMAIN, &[]).await;
        assert_eq!(body["TotalNum"], 0);
        assert_eq!(body["TotalPage"], 0);
        assert_eq!(body["StreamUrls"], json!({"StreamUrl": []}));
    }
}

#[tokio::test]
async fn parameters_in_a_form_body_and_get_work_too() {
    let h = Harness::new();
    let mut req = h.build(Sig::Rpc, Method::POST, FORBID, &[]);
    req.form = forbid_params(DOMAIN, "live", "form")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (status, body) = h.send(req.finish(AK, SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h.call(Sig::V3, LIST, &[("DomainName", DOMAIN)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(urls(&body), ["live.example.com/live/form"]);
}

#[tokio::test]
async fn resume_time_oneshot_and_expiry() {
    let h = Harness::new();
    let in_an_hour = format_utc(CAPTURE_TIME + 3600);
    let mut p = forbid_params(DOMAIN, "live", "timed");
    p.push(("ResumeTime", &in_an_hour));
    let (status, body) = send(&h, Sig::V3, FORBID, &p).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.streams.blocks(&acct_a())[0].resume_at,
        CAPTURE_TIME + 3600
    );
    // Forbidden again: the new ResumeTime replaces the old one, no second block.
    let in_two = format_utc(CAPTURE_TIME + 7200);
    p.pop();
    p.push(("ResumeTime", &in_two));
    p.push(("Oneshot", "no"));
    let (status, _) = send(&h, Sig::Rpc, FORBID, &p).await;
    assert_eq!(status, StatusCode::OK);
    let blocks = h.streams.blocks(&acct_a());
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].resume_at, CAPTURE_TIME + 7200);

    // Oneshot: the publisher is kicked, the stream is not blocked.
    let mut p = forbid_params(DOMAIN, "live", "once");
    p.push(("Oneshot", "yes"));
    let (status, body) = send(&h, Sig::V3, FORBID, &p).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.streams.kicks().last(),
        Some(&path(DOMAIN, "live", "once"))
    );
    assert_eq!(
        urls(&list(&h, DOMAIN, &[]).await),
        ["live.example.com/live/timed"]
    );

    // At ResumeTime the block ends by itself.
    h.clock.advance(7200);
    assert_eq!(list(&h, DOMAIN, &[]).await["TotalNum"], 0);
}

#[tokio::test]
async fn domains_are_case_insensitive() {
    let h = Harness::new();
    forbid(&h, "Live.Example.COM", "live", "S").await;
    let body = list(&h, "LIVE.example.com", &[]).await;
    assert_eq!(body["DomainName"], DOMAIN);
    // Apps and streams are case-sensitive.
    assert_eq!(urls(&body), ["live.example.com/live/S"]);
}

#[tokio::test]
async fn resume_every_app_with_a_star() {
    let h = Harness::new();
    forbid(&h, DOMAIN, "live", "s").await;
    forbid(&h, DOMAIN, "other", "s").await;
    forbid(&h, DOMAIN, "live", "t").await;
    forbid(&h, DOMAIN_2, "live", "s").await;
    let (status, body) = send(
        &h,
        Sig::V3,
        RESUME,
        &[
            ("DomainName", DOMAIN),
            ("LiveStreamType", "publisher"),
            ("AppName", "*"),
            ("StreamName", "s"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        urls(&list(&h, DOMAIN, &[]).await),
        ["live.example.com/live/t"]
    );
    // Other domains are untouched.
    assert_eq!(
        urls(&list(&h, DOMAIN_2, &[]).await),
        ["push.example.com/live/s"]
    );
}

#[tokio::test]
async fn block_list_pages() {
    let h = Harness::new();
    for (app, stream) in [("b", "2"), ("a", "9"), ("b", "1"), ("a", "10"), ("c", "x")] {
        forbid(&h, DOMAIN, app, stream).await;
    }
    forbid(&h, DOMAIN_2, "a", "elsewhere").await;
    let all = list(&h, DOMAIN, &[]).await;
    assert_eq!(
        urls(&all),
        [
            "live.example.com/a/10",
            "live.example.com/a/9",
            "live.example.com/b/1",
            "live.example.com/b/2",
            "live.example.com/c/x",
        ]
    );
    assert_eq!(
        (&all["TotalNum"], &all["TotalPage"]),
        (&json!(5), &json!(1))
    );
    let pages: Vec<(&str, Vec<&str>)> = vec![
        ("1", vec!["live.example.com/a/10", "live.example.com/a/9"]),
        ("2", vec!["live.example.com/b/1", "live.example.com/b/2"]),
        ("3", vec!["live.example.com/c/x"]),
        ("4", vec![]),
        ("2147483647", vec![]),
    ];
    for (num, expected) in pages {
        let body = list(&h, DOMAIN, &[("PageNum", num), ("PageSize", "2")]).await;
        assert_eq!(urls(&body), expected, "page {num}");
        assert_eq!(body["PageNum"], num.parse::<u64>().unwrap());
        assert_eq!(body["PageSize"], 2);
        assert_eq!(body["TotalNum"], 5);
        assert_eq!(body["TotalPage"], 3, "ceil(5 / 2)");
    }
    let body = list(&h, DOMAIN, &[("PageSize", "5")]).await;
    assert_eq!(body["TotalPage"], 1);
    let body = list(&h, DOMAIN, &[("PageSize", "1")]).await;
    assert_eq!(body["TotalPage"], 5);
    let body = list(&h, DOMAIN, &[("PageSize", "3000")]).await;
    assert_eq!(urls(&body).len(), 5);
}

/// One validation case: the parameters, the code, and the parameter the message names.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

async fn check_cases(h: &Harness, action: &str, cases: &[Case<'_>]) {
    for (i, (params, code, name)) in cases.iter().enumerate() {
        let sig = if i % 2 == 0 { Sig::Rpc } else { Sig::V3 };
        let (status, body) = send(h, sig, action, params).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*code)),
            "{action} {params:?}: {body}"
        );
        let message = body["Message"].as_str().unwrap();
        if code.starts_with("Missing") {
            assert_eq!(message, format!("{name} is mandatory for this action."));
        } else {
            assert!(
                message.starts_with(&format!("The parameter {name} is invalid")),
                "{action} {params:?}: {message}"
            );
        }
    }
}

/// `base` without `name`, or with `name` set to `value`.
fn with<'a>(
    base: &[(&'a str, &'a str)],
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut p: Vec<_> = base.iter().copied().filter(|(k, _)| *k != name).collect();
    if let Some(v) = value {
        p.push((name, v));
    }
    p
}

#[tokio::test]
async fn forbid_parameter_table() {
    let h = Harness::new();
    let base = forbid_params(DOMAIN, "live", "s");
    let long = "a".repeat(256);
    let long_domain = format!("{}.example.com", "a".repeat(250));
    let now = format_utc(CAPTURE_TIME);
    let past = format_utc(CAPTURE_TIME - 1);
    let inv = "InvalidParameter";
    let cases: Vec<Case> = vec![
        (
            with(&base, "DomainName", None),
            "MissingDomainName",
            "DomainName",
        ),
        (
            with(&base, "DomainName", Some("")),
            "MissingDomainName",
            "DomainName",
        ),
        (with(&base, "AppName", None), "MissingAppName", "AppName"),
        (
            with(&base, "StreamName", None),
            "MissingStreamName",
            "StreamName",
        ),
        (
            with(&base, "StreamName", Some("")),
            "MissingStreamName",
            "StreamName",
        ),
        (
            with(&base, "LiveStreamType", None),
            "MissingLiveStreamType",
            "LiveStreamType",
        ),
        (
            with(&base, "DomainName", Some("a b.com")),
            inv,
            "DomainName",
        ),
        (
            with(&base, "DomainName", Some("live.example.com/x")),
            inv,
            "DomainName",
        ),
        (
            with(&base, "DomainName", Some(&long_domain)),
            inv,
            "DomainName",
        ),
        (with(&base, "AppName", Some("*")), inv, "AppName"),
        (with(&base, "AppName", Some("a/b")), inv, "AppName"),
        (with(&base, "AppName", Some(&long)), inv, "AppName"),
        (
            with(&base, "StreamName", Some("s?auth_key=1")),
            inv,
            "StreamName",
        ),
        (with(&base, "StreamName", Some("s t")), inv, "StreamName"),
        (with(&base, "StreamName", Some("s\u{7}")), inv, "StreamName"),
        (with(&base, "StreamName", Some(&long)), inv, "StreamName"),
        (
            with(&base, "LiveStreamType", Some("subscriber")),
            inv,
            "LiveStreamType",
        ),
        (
            with(&base, "LiveStreamType", Some("Publisher")),
            inv,
            "LiveStreamType",
        ),
        (
            with(&base, "ResumeTime", Some("tomorrow")),
            inv,
            "ResumeTime",
        ),
        (
            with(&base, "ResumeTime", Some("2026-11-22T20:00:00")),
            inv,
            "ResumeTime",
        ),
        (with(&base, "ResumeTime", Some(&now)), inv, "ResumeTime"),
        (with(&base, "ResumeTime", Some(&past)), inv, "ResumeTime"),
        (with(&base, "Oneshot", Some("maybe")), inv, "Oneshot"),
        (with(&base, "Oneshot", Some("true")), inv, "Oneshot"),
        (with(&base, "OwnerId", Some("x")), inv, "OwnerId"),
    ];
    check_cases(&h, FORBID, &cases).await;
    assert!(h.streams.kicks().is_empty());
    // 255 characters is the limit, not past it.
    let max = "a".repeat(255);
    let (status, body) = send(&h, Sig::V3, FORBID, &with(&base, "StreamName", Some(&max))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn resume_parameter_table() {
    let h = Harness::new();
    let base = vec![
        ("DomainName", DOMAIN),
        ("LiveStreamType", "publisher"),
        ("AppName", "live"),
        ("StreamName", "s"),
    ];
    let inv = "InvalidParameter";
    let cases: Vec<Case> = vec![
        (
            with(&base, "DomainName", None),
            "MissingDomainName",
            "DomainName",
        ),
        (
            with(&base, "LiveStreamType", None),
            "MissingLiveStreamType",
            "LiveStreamType",
        ),
        (with(&base, "AppName", None), "MissingAppName", "AppName"),
        (
            with(&base, "AppName", Some("")),
            "MissingAppName",
            "AppName",
        ),
        (
            with(&base, "StreamName", None),
            "MissingStreamName",
            "StreamName",
        ),
        (
            with(&base, "DomainName", Some("bad domain")),
            inv,
            "DomainName",
        ),
        (
            with(&base, "LiveStreamType", Some("player")),
            inv,
            "LiveStreamType",
        ),
        (with(&base, "AppName", Some("a#b")), inv, "AppName"),
        (with(&base, "StreamName", Some("*")), inv, "StreamName"),
        (with(&base, "StreamName", Some("a/b")), inv, "StreamName"),
    ];
    check_cases(&h, RESUME, &cases).await;
}

#[tokio::test]
async fn block_list_parameter_table() {
    let h = Harness::new();
    let base = vec![("DomainName", DOMAIN)];
    let inv = "InvalidParameter";
    let cases: Vec<Case> = vec![
        (vec![], "MissingDomainName", "DomainName"),
        (vec![("DomainName", "")], "MissingDomainName", "DomainName"),
        (vec![("DomainName", "a%b")], inv, "DomainName"),
        (with(&base, "PageSize", Some("0")), inv, "PageSize"),
        (with(&base, "PageSize", Some("3001")), inv, "PageSize"),
        (with(&base, "PageSize", Some("ten")), inv, "PageSize"),
        (with(&base, "PageSize", Some("-1")), inv, "PageSize"),
        (with(&base, "PageNum", Some("0")), inv, "PageNum"),
        (with(&base, "PageNum", Some("2147483648")), inv, "PageNum"),
        (with(&base, "PageNum", Some("1.5")), inv, "PageNum"),
    ];
    check_cases(&h, LIST, &cases).await;
}

#[tokio::test]
async fn domains_of_other_accounts_are_not_found() {
    let h = Harness::new();
    let stream = [
        ("LiveStreamType", "publisher"),
        ("AppName", "live"),
        ("StreamName", "s"),
    ];
    for domain in [DOMAIN_B, "unknown.example.com"] {
        for action in [FORBID, RESUME, LIST] {
            let mut p = vec![("DomainName", domain)];
            if action != LIST {
                p.extend_from_slice(&stream);
            }
            let (status, body) = send(&h, Sig::V3, action, &p).await;
            assert_eq!(
                (status, body["Code"].as_str(), body["Message"].as_str()),
                (
                    StatusCode::BAD_REQUEST,
                    Some("InvalidDomain.NotFound"),
                    Some("The domain provided does not belong to you.")
                ),
                "{action} {domain}"
            );
        }
    }
    // Account B's own domain works for B, and A's blocks stay invisible to it.
    forbid(&h, DOMAIN, "live", "s").await;
    let (status, body) = send_as(
        &h,
        Sig::Rpc,
        (AK_B, SECRET_B),
        FORBID,
        &forbid_params(DOMAIN_B, "live", "s"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = send_as(
        &h,
        Sig::Rpc,
        (AK_B, SECRET_B),
        LIST,
        &[("DomainName", DOMAIN)],
    )
    .await;
    assert_eq!(body["Code"], "InvalidDomain.NotFound");
    assert_eq!(h.streams.blocks(&acct_a()).len(), 1);
}

#[tokio::test]
async fn the_block_quota_is_per_account() {
    let h = Harness::with_streams(3, None);
    for s in ["1", "2", "3"] {
        forbid(&h, DOMAIN, "live", s).await;
    }
    let (status, body) = send(&h, Sig::V3, FORBID, &forbid_params(DOMAIN_2, "live", "4")).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("QuotaExceeded.BlockList"))
    );
    let message = body["Message"].as_str().unwrap();
    assert!(message.contains(" 3 "), "{message}");
    // Forbidding a forbidden stream again is a replacement, not a new block.
    forbid(&h, DOMAIN, "live", "2").await;
    // A one-shot kick takes no room.
    let mut p = forbid_params(DOMAIN, "live", "4");
    p.push(("Oneshot", "yes"));
    let (status, _) = send(&h, Sig::V3, FORBID, &p).await;
    assert_eq!(status, StatusCode::OK);
    // Another account has its own quota.
    let (status, _) = send_as(
        &h,
        Sig::V3,
        (AK_B, SECRET_B),
        FORBID,
        &forbid_params(DOMAIN_B, "a", "b"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Resuming one makes room.
    let (status, _) = send(
        &h,
        Sig::V3,
        RESUME,
        &[
            ("DomainName", DOMAIN),
            ("LiveStreamType", "publisher"),
            ("AppName", "live"),
            ("StreamName", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    forbid(&h, DOMAIN_2, "live", "4").await;
    assert_eq!(h.streams.blocks(&acct_a()).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn each_action_has_its_own_rate() {
    let h = Harness::with_config(|_| {});
    let forbid_p = forbid_params(DOMAIN, "live", "s");
    let resume_p = [
        ("DomainName", DOMAIN),
        ("LiveStreamType", "publisher"),
        ("AppName", "*"),
        ("StreamName", "s"),
    ];
    let list_p = [("DomainName", DOMAIN)];
    let task_p = [("Region", "cn-shanghai"), ("TaskId", "abc")];
    let rates: [(&str, &Params, usize); 4] = [
        (FORBID, &forbid_p, 20),
        (RESUME, &resume_p, 30),
        (LIST, &list_p, 50),
        ("DescribeLivePullToPush", &task_p, 10),
    ];
    for (action, params, rate) in rates {
        for i in 0..rate {
            let (_, body) = send(&h, Sig::Rpc, action, params).await;
            assert_ne!(body["Code"], "Throttling.User", "{action} request {i}");
        }
        let (status, body) = send(&h, Sig::Rpc, action, params).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("Throttling.User")),
            "{action} request {rate}"
        );
    }
    // Forbid's interval is 1/20 s: 50 ms later, one more Forbid, but no task action yet.
    tokio::time::advance(Duration::from_millis(50)).await;
    let (status, _) = send(&h, Sig::V3, FORBID, &forbid_p).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = send(&h, Sig::V3, FORBID, &forbid_p).await;
    assert_eq!(body["Code"], "Throttling.User");
    let (_, body) = send(&h, Sig::V3, "DescribeLivePullToPush", &task_p).await;
    assert_eq!(body["Code"], "Throttling.User");
    // Another account is not affected.
    let (status, _) = send_as(
        &h,
        Sig::V3,
        (AK_B, SECRET_B),
        FORBID,
        &forbid_params(DOMAIN_B, "a", "b"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The per-action limits are configurable, apart from the default.
    let h = Harness::with_config(|c| {
        c.actions_per_second = 1;
        c.action_limits.insert(FORBID.into(), 2);
    });
    for expected in [None, None, Some("Throttling.User")] {
        let (_, body) = send(&h, Sig::V3, FORBID, &forbid_p).await;
        assert_eq!(body["Code"].as_str(), expected);
    }
    for expected in ["CodeTaskNotExist", "Throttling.User"] {
        let (_, body) = send(&h, Sig::V3, "DescribeLivePullToPush", &task_p).await;
        assert_eq!(body["Code"], expected);
    }
    for _ in 0..30 {
        let (status, _) = send(&h, Sig::V3, RESUME, &resume_p).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn resource_policies() {
    let h = Harness::new();
    let one = (AK_LIVE, SECRET_LIVE);
    let wild = (AK_WILD, SECRET_WILD);
    let denied = |body: &Value, action: &str, domain: &str| {
        assert_eq!(body["Code"], "Forbidden.RAM", "{body}");
        let message = body["Message"].as_str().unwrap();
        assert!(message.contains(&format!("live:{action}")), "{message}");
        assert!(
            message.contains(&format!("acs:cdn:*:acct-a:domain/{domain}")),
            "{message}"
        );
    };

    // A key for one domain: allowed there (in any case), denied elsewhere, with a 403.
    let (status, body) = send_as(&h, Sig::V3, one, FORBID, &forbid_params(DOMAIN, "a", "s")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = send_as(
        &h,
        Sig::Rpc,
        one,
        FORBID,
        &forbid_params("LIVE.Example.com", "a", "t"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_as(&h, Sig::V3, one, LIST, &[("DomainName", DOMAIN)]).await;
    assert_eq!((status, &body["TotalNum"]), (StatusCode::OK, &json!(2)));
    let (status, body) =
        send_as(&h, Sig::V3, one, FORBID, &forbid_params(DOMAIN_2, "a", "s")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    denied(&body, FORBID, DOMAIN_2);
    let resume = [
        ("DomainName", DOMAIN_2),
        ("LiveStreamType", "publisher"),
        ("AppName", "*"),
        ("StreamName", "s"),
    ];
    let (status, body) = send_as(&h, Sig::Rpc, one, RESUME, &resume).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    denied(&body, RESUME, DOMAIN_2);
    let (status, body) = send_as(&h, Sig::Rpc, one, LIST, &[("DomainName", DOMAIN_2)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    denied(&body, LIST, DOMAIN_2);
    // The resource check comes before the service: a foreign domain is denied, not "not
    // found", so a restricted key learns nothing about it.
    let (status, body) = send_as(&h, Sig::Rpc, one, LIST, &[("DomainName", DOMAIN_B)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    denied(&body, LIST, DOMAIN_B);
    // The task actions have no resource-level authorization.
    let (status, body) = send_as(
        &h,
        Sig::V3,
        one,
        "DescribeLivePullToPush",
        &[("Region", "cn-shanghai"), ("TaskId", "abc")],
    )
    .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CodeTaskNotExist"))
    );

    // A wildcard key: `*.example.com` of any account.
    let (status, _) = send_as(
        &h,
        Sig::V3,
        wild,
        FORBID,
        &forbid_params(DOMAIN_2, "a", "s"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send_as(&h, Sig::V3, wild, RESUME, &resume).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_as(
        &h,
        Sig::V3,
        wild,
        FORBID,
        &forbid_params(DOMAIN_NET, "a", "s"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    denied(&body, FORBID, DOMAIN_NET);
    // Account A's unrestricted key reaches every domain of A.
    forbid(&h, DOMAIN_NET, "a", "s").await;

    // The action patterns still apply: the read-only key may list but not forbid.
    let ro = (AK_RO, SECRET_RO);
    let (status, _) = send_as(&h, Sig::V3, ro, LIST, &[("DomainName", DOMAIN)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_as(&h, Sig::V3, ro, FORBID, &forbid_params(DOMAIN, "a", "s")).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::FORBIDDEN, Some("Forbidden.RAM"))
    );
    assert_eq!(
        body["Message"],
        "User not authorized to operate on the specified resource: live:ForbidLiveStream."
    );
    // Nothing a denied request asked for happened.
    assert_eq!(
        h.streams.kicks(),
        [
            path(DOMAIN, "a", "s"),
            path(DOMAIN, "a", "t"),
            path(DOMAIN_2, "a", "s"),
            path(DOMAIN_NET, "a", "s"),
        ]
    );
}

/// A stream service that fails with a set error.
#[derive(Debug)]
struct Failing(StreamError);

impl StreamService for Failing {
    fn live(&self, _: &AccountId) -> Vec<baton_api::LiveStreamView> {
        Vec::new()
    }
    fn domain_owner(&self, _: &str) -> Option<AccountId> {
        None
    }
    fn forbid(
        &self,
        _: &AccountId,
        _: StreamPath,
        _: Option<UnixTime>,
        _: bool,
    ) -> BoxFuture<'_, Result<(), StreamError>> {
        let e = self.0.clone();
        Box::pin(async move { Err(e) })
    }
    fn resume(
        &self,
        _: &AccountId,
        _: &str,
        _: AppSelector,
        _: &str,
    ) -> BoxFuture<'_, Result<(), StreamError>> {
        let e = self.0.clone();
        Box::pin(async move { Err(e) })
    }
    fn search(
        &self,
        _: &AccountId,
        _: BlockQuery,
        _: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>> {
        let e = self.0.clone();
        Box::pin(async move { Err(e) })
    }
    fn block_list(
        &self,
        _: &AccountId,
        _: &str,
        _: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>> {
        let e = self.0.clone();
        Box::pin(async move { Err(e) })
    }
}

#[tokio::test]
async fn service_failures_map_to_codes() {
    let resume = [
        ("DomainName", DOMAIN),
        ("LiveStreamType", "publisher"),
        ("AppName", "live"),
        ("StreamName", "s"),
    ];
    let calls: [(&str, Vec<(&str, &str)>); 3] = [
        (FORBID, forbid_params(DOMAIN, "live", "s")),
        (RESUME, resume.to_vec()),
        (LIST, vec![("DomainName", DOMAIN)]),
    ];
    let h = Harness::with_streams(
        10,
        Some(Arc::new(Failing(StreamError::Internal(
            "disk /var/lib/baton full".into(),
        )))),
    );
    for (action, params) in &calls {
        let (status, body) = send(&h, Sig::V3, action, params).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{action}");
        assert_eq!(body["Code"], "InternalError");
        assert!(!body.to_string().contains("/var/lib"), "{body}");
    }
    // The service's own time check (a request that raced the clock).
    let h = Harness::with_streams(10, Some(Arc::new(Failing(StreamError::ResumeTimeInPast))));
    let (status, body) = send(&h, Sig::V3, FORBID, &calls[0].1).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
    );
    assert!(body["Message"].as_str().unwrap().contains("ResumeTime"));
    let h = Harness::with_streams(
        10,
        Some(Arc::new(Failing(StreamError::QuotaExceeded {
            limit: 10_000,
        }))),
    );
    let (_, body) = send(&h, Sig::V3, FORBID, &calls[0].1).await;
    assert_eq!(body["Code"], "QuotaExceeded.BlockList");
    assert!(body["Message"].as_str().unwrap().contains("10000"));
}
