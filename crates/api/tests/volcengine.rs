//! The Volcengine dialect through the router: the captured requests of the official
//! `volcengine` SDK replayed byte for byte, then every action's rules and error codes with
//! requests signed as the SDK signs them.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::testing::new_task;
use baton_domain::{AccountId, SourceProtocol, SourceType, TaskId, TaskSpec, TaskStatus};
use serde_json::{Value, json};
use support::{AK_RO, AK_VOLC, CAPTURE_TIME, DOMAIN, Harness, SECRET_RO, SECRET_VOLC, Sig};

/// The task id the captured task operations name.
const CAPTURED_ID: &str = "8fde6aa0281d9f6e1000000009a6e242365";

fn captures() -> Vec<Value> {
    include_str!("../testdata/sdk_wire.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["dialect"] == "volcengine")
        .collect()
}

fn request_of(c: &Value) -> Request<Body> {
    let mut builder = Request::builder()
        .method(c["method"].as_str().unwrap())
        .uri(format!("/?{}", c["raw_query"].as_str().unwrap()));
    for pair in c["headers"].as_array().unwrap() {
        builder = builder.header(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
    }
    builder
        .body(Body::from(c["body"].as_str().unwrap_or("").to_string()))
        .unwrap()
}

fn live_spec(start: i64) -> TaskSpec {
    TaskSpec {
        name: "relay01".into(),
        group: "default".into(),
        region: String::new(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec![
            "rtmp://source.example.com/live/src?auth_key=1700000000-0-0-abc123".into(),
        ],
        dst_url: "rtmp://push.example.com/live/relay01".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: start,
        end_time: start + 3600,
        callback_url: None,
        repeat_number: 0,
        retry_count: 3,
        retry_interval: 60,
        file_index: 0,
        offset: 0,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    }
}

fn error_code(body: &Value) -> (&str, u64) {
    let e = &body["ResponseMetadata"]["Error"];
    (
        e["Code"].as_str().unwrap_or(""),
        e["CodeN"].as_u64().unwrap_or(0),
    )
}

fn metadata_ok(body: &Value, action: &str) {
    let m = &body["ResponseMetadata"];
    assert_eq!(m["Action"], action, "{body}");
    assert_eq!(m["Version"], "2023-01-01");
    assert_eq!(m["Service"], "live");
    assert_eq!(m["Region"], "cn-north-1");
    assert_eq!(m["RequestId"].as_str().unwrap().len(), 34);
    assert!(m.get("Error").is_none(), "{body}");
}

#[tokio::test]
async fn every_captured_sdk_request_authenticates_and_is_answered() {
    let h = Harness::new();
    // The captured Update/Stop/Restart/Continue/Delete act on this task: running.
    // The captured Update resends the task's times: 1795374478 .. 1795378078.
    let mut task = new_task(
        TaskId(CAPTURED_ID.into()),
        AccountId("acct-a".into()),
        live_spec(CAPTURE_TIME),
        CAPTURE_TIME - 120,
    );
    task.runtime.status = TaskStatus::Running;
    h.service.insert(task);
    let mut seen = Vec::new();
    for c in captures() {
        let label = c["label"].as_str().unwrap().to_string();
        let (status, body) = h.send(request_of(&c)).await;
        let action = c["action"].as_str().unwrap();
        assert_eq!(
            body["ResponseMetadata"]["Action"], action,
            "{label}: {body}"
        );
        match label.as_str() {
            // OffsetS [0, 1.5]: a per-file offset on the second file, which Baton does not run.
            "volc:CreatePullToPushTask-vod" => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{label}");
                assert_eq!(error_code(&body).0, "InvalidParam.Unsupported", "{body}");
                assert!(body.to_string().contains("OffsetS"), "{body}");
            }
            "volc:CreatePullToPushTask" => {
                assert_eq!(status, StatusCode::OK, "{label}: {body}");
                metadata_ok(&body, action);
                let id = body["Result"]["TaskId"].as_str().unwrap();
                let t = h.service.task(&TaskId(id.into())).unwrap();
                assert_eq!(t.spec.name, "relay01");
                assert_eq!(t.spec.group, "default");
                assert_eq!(t.spec.source_protocol, Some(SourceProtocol::Rtmp));
                assert_eq!(
                    t.spec.callback_url.as_deref(),
                    Some("http://callback.example.com/cb?src=relay")
                );
            }
            "volc:ListPullToPushTask" => {
                assert_eq!(status, StatusCode::OK, "{label}: {body}");
                metadata_ok(&body, action);
                // Title "relay 测试*~" matches nothing; the page is well-formed.
                assert_eq!(body["Result"]["Pagination"]["PageCur"], 1);
                assert_eq!(body["Result"]["Pagination"]["PageSize"], 20);
                assert_eq!(body["Result"]["List"], json!([]));
            }
            // Continue after Restart: the task is running again, not stopped.
            "volc:ContinuePullToPushTask" => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: {body}");
                assert_eq!(error_code(&body).0, "InvalidParam.TaskStatus");
            }
            _ => {
                assert_eq!(status, StatusCode::OK, "{label}: {body}");
                metadata_ok(&body, action);
                assert!(body.get("Result").is_none(), "{label}: {body}");
            }
        }
        seen.push(label);
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    // Update changed the callback; Stop, Restart, then Delete removed the task.
    assert!(h.service.task(&TaskId(CAPTURED_ID.into())).is_none());
}

#[tokio::test]
async fn a_tampered_capture_is_refused_with_signature_does_not_match() {
    let h = Harness::new();
    let mut c = captures().remove(0);
    let body = c["body"].as_str().unwrap().replace("relay01", "relay02");
    c["body"] = Value::String(body);
    let (status, body) = h.send(request_of(&c)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), ("SignatureDoesNotMatch", 100_010));
}

async fn list(h: &Harness) -> (StatusCode, Value) {
    let req = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::GET,
        "ListPullToPushTask",
        &[("Page", "1"), ("Size", "10"), ("Title", "RELAY")],
        None,
    );
    h.send(req).await
}

#[tokio::test]
async fn lifecycle_through_the_dialect() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    let (status, body) = h
        .volc(
            "CreatePullToPushTask",
            json!({"Title": "直播 relay", "StartTime": now + 600, "EndTime": now + 7200, "Type": 0,
                   "SrcAddr": "http://origin.example.com/live/s.flv",
                   "Domain": "Push.Example.com", "App": "live", "Stream": "out"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["Result"]["TaskId"].as_str().unwrap().to_string();
    let t = h.service.task(&TaskId(id.clone())).unwrap();
    assert_eq!(t.spec.dst_url, "rtmp://push.example.com/live/out");
    assert_eq!(t.spec.source_protocol, Some(SourceProtocol::HttpFlv));
    assert_eq!(t.spec.region, "");

    let (status, body) = list(&h).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = &body["Result"]["List"][0];
    assert_eq!(item["TaskId"], id.as_str());
    assert_eq!(item["Status"], "未开始");
    assert_eq!(item["Type"], 0);
    assert_eq!(item["SrcAddr"], "http://origin.example.com/live/s.flv");
    assert!(item.get("SrcAddrS").is_none());
    assert_eq!(item["StartTime"], baton_domain::time::rfc3339(now + 600));
    assert_eq!(item["GroupName"], "default");
    // push.example.com is one of the account's ingest domains.
    assert_eq!(item["DstAddrType"], 1);
    assert_eq!(body["Result"]["Pagination"]["TotalCount"], 1);

    // Stop a task that has not started: 停用; again: wrong state.
    let (status, _) = h.volc("StopPullToPushTask", json!({"TaskId": id})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list(&h).await.1["Result"]["List"][0]["Status"], "停用");
    h.clock.advance(1);
    let (status, body) = h.volc("StopPullToPushTask", json!({"TaskId": id})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).0, "InvalidParam.TaskStatus");
    let message = body["ResponseMetadata"]["Error"]["Message"]
        .as_str()
        .unwrap();
    assert!(
        message.starts_with("The task is 停用 (stopped)."),
        "{message}"
    );
    // Continue before the start time: 未开始 again; after it: 生效中.
    let (status, _) = h
        .volc("ContinuePullToPushTask", json!({"TaskId": id}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list(&h).await.1["Result"]["List"][0]["Status"], "未开始");
    let (_, body) = h
        .volc("ContinuePullToPushTask", json!({"TaskId": id, "x": 1}))
        .await;
    assert_eq!(error_code(&body).0, "InvalidParam.TaskStatus", "{body}");
    // A wrong GroupName: not found.
    let (status, body) = h
        .volc(
            "DeletePullToPushTask",
            json!({"TaskId": id, "GroupName": "other"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body).0, "ResourceNotFound");
    let (status, _) = h
        .volc(
            "DeletePullToPushTask",
            json!({"TaskId": id, "GroupName": "default"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Signed a second later than the Stop above: the same bytes would get its answer again.
    h.clock.advance(1);
    let (status, body) = h.volc("StopPullToPushTask", json!({"TaskId": id})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body).0, "ResourceNotFound");
}

#[tokio::test]
async fn files_map_cycle_mode_and_play_times_to_the_repeat_count() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    let create = |extra: Value| {
        let mut b = json!({"StartTime": now, "EndTime": now + 3600, "Type": 1,
                           "SrcAddrS": ["http://h/a.mp4", "http://h/b.flv"],
                           "DstAddr": "rtmp://d/live/s"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, repeat) in [
        (json!({"CycleMode": -1, "Title": "t0"}), -1),
        (json!({"CycleMode": 3, "Title": "t1"}), 2),
        (json!({"CycleMode": 0, "PlayTimes": 1, "Title": "t2"}), 0),
        (json!({"CycleMode": 0, "PlayTimes": 4, "Title": "t3"}), 3),
    ] {
        let (status, body) = h.volc("CreatePullToPushTask", create(extra.clone())).await;
        assert_eq!(status, StatusCode::OK, "{extra} {body}");
        let id = body["Result"]["TaskId"].as_str().unwrap();
        let t = h.service.task(&TaskId(id.into())).unwrap();
        assert_eq!(t.spec.repeat_number, repeat, "{extra}");
        assert_eq!(t.spec.source_type, SourceType::Url);
        h.clock.advance(1);
    }
    let (_, body) = h
        .volc(
            "ListPullToPushTaskV2",
            json!({"Page": 1, "Size": 1, "Title": "t3"}),
        )
        .await;
    let item = &body["Result"]["List"][0];
    // CycleMode 0 with PlayTimes 4 → answered as CycleMode 4.
    assert_eq!(item["CycleMode"], 4, "{body}");
    assert_eq!(item["PlayTimes"], 0);
    assert_eq!(item["DstAddrType"], 2, "a third party's destination");
    assert_eq!(
        item["SrcAddrS"],
        json!(["http://h/a.mp4", "http://h/b.flv"])
    );
    assert_eq!(body["Result"]["Pagination"]["PageTotal"], 1);
    let (_, body) = h
        .volc("ListPullToPushTaskV2", json!({"Page": 1, "Size": 3}))
        .await;
    assert_eq!(body["Result"]["Pagination"]["PageTotal"], 2);
    assert_eq!(body["Result"]["Pagination"]["TotalCount"], 4);

    // Refused: no CycleMode, PlayTimes 0, both address forms, unsupported features.
    for (extra, code, mention) in [
        (json!({}), "InvalidParam", "CycleMode"),
        (json!({"CycleMode": 0}), "InvalidParam", "PlayTimes"),
        (json!({"CycleMode": -2}), "InvalidParam", "CycleMode"),
        (
            json!({"CycleMode": -1, "VodSrcAddrs": [{"SrcAddr": "http://h/c.mp4"}]}),
            "InvalidParam",
            "VodSrcAddrs",
        ),
        (
            json!({"CycleMode": -1, "Watermark": {"Picture": "data:image/png;base64,AA", "Ratio": 0.1, "RelativePosX": 0, "RelativePosY": 0}}),
            "InvalidParam.Unsupported",
            "Watermark",
        ),
        (
            json!({"CycleMode": -1, "ContinueStrategy": 1}),
            "InvalidParam.Unsupported",
            "ContinueStrategy",
        ),
        (
            json!({"CycleMode": -1, "OffsetS": [5, 0]}),
            "InvalidParam.Unsupported",
            "OffsetS",
        ),
        (
            json!({"CycleMode": "-1"}),
            "InvalidParam.BindError",
            "CycleMode",
        ),
    ] {
        let (status, body) = h.volc("CreatePullToPushTask", create(extra.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra} {body}");
        assert_eq!(error_code(&body).0, code, "{extra} {body}");
        assert!(body.to_string().contains(mention), "{extra} {body}");
    }
    // A start offset on the first file of a list played once is the task's Offset.
    let (status, body) = h
        .volc(
            "CreatePullToPushTask",
            create(json!({"CycleMode": 1, "OffsetS": [7.9, 0]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["Result"]["TaskId"].as_str().unwrap();
    assert_eq!(h.service.task(&TaskId(id.into())).unwrap().spec.offset, 7);
}

#[tokio::test]
async fn parameters_are_checked_with_the_dialects_codes() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    let base = json!({"StartTime": now, "EndTime": now + 3600, "Type": 0,
                      "SrcAddr": "rtmp://s/live/a", "DstAddr": "rtmp://d/live/b"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    for (body, code) in [
        (with("StartTime", Value::Null), "InvalidParam"),
        (with("StartTime", json!("soon")), "InvalidParam.BindError"),
        (with("EndTime", json!(now + 7 * 86_400 + 1)), "InvalidParam"),
        (with("EndTime", json!(now - 1)), "InvalidParam"),
        (with("Type", json!(2)), "InvalidParam"),
        (with("Title", json!("x".repeat(21))), "InvalidParam"),
        (
            with(
                "CallbackURL",
                json!(format!("http://cb/{}", "x".repeat(600))),
            ),
            "InvalidParam",
        ),
        (with("SrcAddr", json!("ftp://s/a")), "InvalidParam"),
        // One live source in this dialect (backups are the native API's): a list of two is
        // refused with the dialect's own error.
        (
            with("SrcAddr", json!(["rtmp://s/live/a", "rtmp://s/live/b"])),
            "InvalidParam.BindError",
        ),
        (
            with("SrcAddr", json!("rtsps://s/cam")),
            "InvalidParam.Unsupported",
        ),
        (with("DstAddr", Value::Null), "InvalidParam"),
        (with("GroupName", json!("nosuchgroup")), "ResourceNotFound"),
        (json!([1, 2]), "InvalidParam.BindError"),
    ] {
        let (status, got) = h.volc("CreatePullToPushTask", body.clone()).await;
        assert_eq!(error_code(&got).0, code, "{body} → {got}");
        assert_ne!(status, StatusCode::OK);
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    // SRT sources are built: an srt:// SrcAddr is accepted.
    let (status, got) = h
        .volc(
            "CreatePullToPushTask",
            with("SrcAddr", json!("srt://s:9000?streamid=live/a")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    // So are RTSP sources (rtsps:// is refused above).
    let (status, got) = h
        .volc(
            "CreatePullToPushTask",
            with("SrcAddr", json!("rtsp://admin:pw@cam.example:554/h264")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let (status, body) = h.volc("StopPullToPushTask", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).0, "InvalidParam");
    assert!(body.to_string().contains("TaskId"), "{body}");
    let (status, body) = h.volc("NoSuchAction", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), ("InvalidActionOrVersion", 100_008));
    // POST-only actions are not GETs.
    let req = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::GET,
        "StopPullToPushTask",
        &[("TaskId", "x")],
        None,
    );
    let (status, _) = h.send(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authentication_authorization_throttling_and_replay() {
    // The provider's limits: 10 requests per second per account and action.
    let h = Harness::with_config(|_| {});
    let req = h.volc_request(
        AK_VOLC,
        "wrong",
        Method::POST,
        "StopPullToPushTask",
        &[],
        Some(&json!({"TaskId": "t"})),
    );
    let (status, body) = h.send(req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, ("SignatureDoesNotMatch", 100_010))
    );
    let req = h.volc_request(
        "AKLTunknown",
        SECRET_VOLC,
        Method::POST,
        "StopPullToPushTask",
        &[],
        Some(&json!({"TaskId": "t"})),
    );
    let (status, body) = h.send(req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, ("InvalidAccessKey", 100_009))
    );
    // Unsigned.
    let unsigned = Request::builder()
        .method(Method::POST)
        .uri("/?Action=StopPullToPushTask&Version=2023-01-01")
        .body(Body::from("{}"))
        .unwrap();
    let (status, body) = h.send(unsigned).await;
    assert_eq!(
        (status, error_code(&body).0),
        (StatusCode::UNAUTHORIZED, "MissingAuthenticationToken")
    );
    // A key whose policy allows only live:Describe*.
    let req = h.volc_request(
        AK_RO,
        SECRET_RO,
        Method::GET,
        "ListPullToPushTask",
        &[],
        None,
    );
    let (status, body) = h.send(req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, ("AccessDenied", 100_013))
    );
    // Outside the 15-minute window.
    let req = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::GET,
        "ListPullToPushTask",
        &[],
        None,
    );
    h.clock.advance(16 * 60);
    let (status, body) = h.send(req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, ("InvalidTimestamp", 100_006))
    );
    // The same signed Create twice: the second gets the first's answer (the same TaskId and
    // RequestId, byte for byte) and no second task exists. The lists simply run again.
    let now = CAPTURE_TIME + 16 * 60;
    let create = json!({"StartTime": now, "EndTime": now + 60, "Type": 0,
                        "SrcAddr": "rtmp://s/live/a", "DstAddr": "rtmp://d/live/b"});
    let first = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::POST,
        "CreatePullToPushTask",
        &[],
        Some(&create),
    );
    let again = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::POST,
        "CreatePullToPushTask",
        &[],
        Some(&create),
    );
    let (status, created) = h.send(first).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.send(again).await;
    assert_eq!((status, &body), (StatusCode::OK, &created));
    let list = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::GET,
        "ListPullToPushTask",
        &[],
        None,
    );
    let (_, listed) = h.send(list).await;
    assert_eq!(listed["Result"]["Pagination"]["TotalCount"], 1, "{listed}");
    for _ in 0..2 {
        let stop = h.volc_request(
            AK_VOLC,
            SECRET_VOLC,
            Method::POST,
            "StopPullToPushTask",
            &[],
            Some(&json!({"TaskId": "t"})),
        );
        assert_eq!(h.send(stop).await.0, StatusCode::NOT_FOUND);
    }
    for _ in 0..2 {
        let req = h.volc_request(
            AK_VOLC,
            SECRET_VOLC,
            Method::GET,
            "ListPullToPushTask",
            &[],
            None,
        );
        assert_eq!(h.send(req).await.0, StatusCode::OK);
    }
    // 10 requests per second per account and action.
    let mut throttled = 0;
    for i in 0..15 {
        let req = h.volc_request(
            AK_VOLC,
            SECRET_VOLC,
            Method::GET,
            "ListPullToPushTask",
            &[("Page", &(i + 1).to_string())],
            None,
        );
        let (status, body) = h.send(req).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(error_code(&body).0, "AccountFlowLimitExceeded");
            throttled += 1;
        }
    }
    assert!(throttled >= 5, "{throttled}");
}

#[tokio::test]
async fn groups() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    let (status, body) = h
        .volc("CreatePullToPushGroup", json!({"Name": "赛事A", "ProjectName": "default", "Tags": [{"Key": "k", "Value": "v"}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = h
        .volc(
            "CreatePullToPushGroup",
            json!({"Name": "赛事A", "ProjectName": "default"}),
        )
        .await;
    assert_eq!(error_code(&body).0, "InvalidParam.GroupAlreadyExists");
    let (_, body) = h
        .volc(
            "CreatePullToPushGroup",
            json!({"Name": "bad name!", "ProjectName": "p"}),
        )
        .await;
    assert_eq!(error_code(&body).0, "InvalidParam");
    let (status, body) = h
        .volc(
            "CreatePullToPushTask",
            json!({"StartTime": now, "EndTime": now + 60, "Type": 0,
              "SrcAddr": "rtmp://s/live/a", "DstAddr": "rtmp://d/live/b", "GroupName": "赛事A"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["Result"]["TaskId"].as_str().unwrap().to_string();
    let (status, body) = h
        .volc("DeletePullToPushGroup", json!({"Name": "赛事A"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).0, "InvalidParam.GroupNotEmpty");
    let (_, body) = h
        .volc("ListPullToPushTaskV2", json!({"GroupNames": ["赛事A"]}))
        .await;
    assert_eq!(body["Result"]["List"][0]["TaskId"], id.as_str());
    assert_eq!(body["Result"]["List"][0]["GroupName"], "赛事A");
    let (_, body) = h
        .volc("ListPullToPushTaskV2", json!({"GroupNames": ["default"]}))
        .await;
    assert_eq!(body["Result"]["List"], json!([]));
    let (status, _) = h
        .volc(
            "UpdatePullToPushGroup",
            json!({"Name": "赛事A", "Tags": [{"Category": "Custom", "Key": "k2", "Value": "v2"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h
        .volc("UpdatePullToPushGroup", json!({"Name": "nope", "Tags": []}))
        .await;
    assert_eq!(
        (status, error_code(&body).0),
        (StatusCode::NOT_FOUND, "ResourceNotFound")
    );
    h.volc("DeletePullToPushTask", json!({"TaskId": id})).await;
    // Signed a second later than the refused Delete above (same bytes: same answer).
    h.clock.advance(1);
    let (status, body) = h
        .volc("DeletePullToPushGroup", json!({"Name": "赛事A"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = h
        .volc("ListPullToPushGroup", json!({"PageNum": 1, "PageSize": 10}))
        .await;
    // No task went to the default group, so it was never created.
    assert_eq!(body["Result"]["Total"], 0, "{body}");
    let (_, body) = h
        .volc(
            "ListPullToPushGroup",
            json!({"PageNum": 1, "PageSize": 10, "StatusList": [1]}),
        )
        .await;
    let g = &body["Result"]["List"][0];
    assert_eq!(
        (g["Name"].as_str(), g["Status"].as_i64()),
        (Some("赛事A"), Some(1)),
        "{body}"
    );
    assert_eq!(
        g["Tags"],
        json!([{"Category": "Custom", "Key": "k2", "Value": "v2"}])
    );
    let (_, body) = h
        .volc("ListPullToPushGroup", json!({"PageNum": 0, "PageSize": 10}))
        .await;
    assert_eq!(error_code(&body).0, "InvalidParam");
}

#[tokio::test]
async fn one_task_model_under_both_dialects() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    // Alibaba → Volcengine.
    let (status, body) = h
        .call(
            Sig::V3,
            "CreateLivePullToPush",
            &[
                ("Region", "cn-shanghai"),
                ("SourceType", "live"),
                ("SourceProtocol", "rtmp"),
                ("SourceUrls", "[\"rtmp://s/live/a\"]"),
                ("DstUrl", "rtmp://d/live/b"),
                ("StartTime", &baton_api::common::time::format_utc(now + 60)),
                ("EndTime", &baton_api::common::time::format_utc(now + 3600)),
                ("TaskName", "from-alibaba"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ali = body["TaskId"].as_str().unwrap().to_string();
    let (_, body) = h
        .volc("ListPullToPushTaskV2", json!({"Title": "from-alibaba"}))
        .await;
    assert_eq!(body["Result"]["List"][0]["TaskId"], ali.as_str());
    assert_eq!(body["Result"]["List"][0]["GroupName"], "default");
    let (status, _) = h.volc("StopPullToPushTask", json!({"TaskId": ali})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = h
        .call(
            Sig::Rpc,
            "DescribeLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", &ali)],
        )
        .await;
    assert_eq!(body["TaskStatus"], 3, "{body}");

    // Volcengine → Alibaba: listed in the caller's region (it has none of its own).
    let (_, body) = h
        .volc(
            "CreatePullToPushTask",
            json!({"Title": "fromvolc", "StartTime": now, "EndTime": now + 600,
              "Type": 0, "SrcAddr": "rtmp://s/live/a", "DstAddr": "rtmp://d/live/c"}),
        )
        .await;
    let volc = body["Result"]["TaskId"].as_str().unwrap().to_string();
    let (_, body) = h
        .call(
            Sig::V3,
            "DescribeLivePullToPushList",
            &[("Region", "cn-beijing"), ("TaskName", "fromvolc")],
        )
        .await;
    assert_eq!(body["TaskList"][0]["TaskId"], volc.as_str(), "{body}");
    let (status, body) = h
        .call(
            Sig::V3,
            "UpdateLivePullToPush",
            &[
                ("Region", "cn-beijing"),
                ("TaskId", &volc),
                ("CallbackUrl", "http://cb/x"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn search(h: &Harness, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let req = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::GET,
        "DescribeForbiddenStreamInfoByPage",
        query,
        None,
    );
    h.send(req).await
}

#[tokio::test]
async fn ingest_control() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    let end = baton_domain::time::rfc3339(now + 3600).replace('Z', ".000Z");
    let (status, body) = h
        .volc(
            "ForbidStream",
            json!({"Domain": DOMAIN, "App": "live", "Stream": "Show1", "EndTime": end}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = h
        .volc(
            "ForbidStream",
            json!({"Vhost": DOMAIN, "App": "live", "Stream": "show2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.streams.kicks().len(), 2);
    for (body, code) in [
        (
            json!({"Domain": DOMAIN, "Vhost": DOMAIN, "App": "live", "Stream": "s"}),
            "InvalidParam",
        ),
        (json!({"App": "live", "Stream": "s"}), "InvalidParam"),
        (
            json!({"Domain": DOMAIN, "App": "live", "Stream": "s", "EndTime": "2020-01-01T00:00:00Z"}),
            "InvalidParam",
        ),
        (
            json!({"Domain": DOMAIN, "App": "live", "Stream": "s", "EndTime": baton_domain::time::rfc3339(now + 91 * 86_400)}),
            "InvalidParam",
        ),
        (
            json!({"Domain": "b.example.com", "App": "live", "Stream": "s"}),
            "RequestForbidden",
        ),
    ] {
        let (status, got) = h.volc("ForbidStream", body.clone()).await;
        assert_eq!(error_code(&got).0, code, "{body} → {got}");
        assert_ne!(status, StatusCode::OK);
    }
    let (status, body) = search(&h, &[("PageNum", "1"), ("PageSize", "10")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Result"]["RoughCount"], 2);
    // Newest end first: show2 (90 days) before Show1 (1 hour).
    let list = &body["Result"]["StreamInfoList"];
    assert_eq!(list[0]["Stream"], "show2");
    assert_eq!(list[1]["Stream"], "Show1");
    assert_eq!(list[1]["EndTime"], baton_domain::time::rfc3339(now + 3600));
    assert_eq!(list[1]["Vhost"], DOMAIN);
    assert_eq!(list[1]["Status"], true);
    let (_, body) = search(
        &h,
        &[
            ("PageNum", "1"),
            ("PageSize", "10"),
            ("Stream", "SHOW"),
            ("QueryType", "fuzzy"),
            ("Sort", "asc"),
        ],
    )
    .await;
    assert_eq!(body["Result"]["RoughCount"], 2);
    assert_eq!(body["Result"]["StreamInfoList"][0]["Stream"], "Show1");
    let (_, body) = search(
        &h,
        &[("PageNum", "1"), ("PageSize", "10"), ("Stream", "show")],
    )
    .await;
    assert_eq!(body["Result"]["RoughCount"], 0);
    let (_, body) = search(&h, &[("PageSize", "10")]).await;
    assert_eq!(error_code(&body).0, "InvalidParam");

    let (status, _) = h
        .volc(
            "ResumeStream",
            json!({"Domain": DOMAIN, "App": "live", "Stream": "Show1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = search(&h, &[("PageNum", "1"), ("PageSize", "10")]).await;
    assert_eq!(body["Result"]["RoughCount"], 1);
    let (status, _) = h
        .volc(
            "KillStream",
            json!({"Vhost": DOMAIN, "App": "live", "Stream": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.streams.kicks().len(), 3);
    let (_, body) = search(&h, &[("PageNum", "1"), ("PageSize", "10")]).await;
    assert_eq!(body["Result"]["RoughCount"], 1, "a kick forbids nothing");
}
