//! Every captured request of the official Alibaba SDKs (new SDK with V3 and with v2
//! signatures, old SDK) for the seven pull-to-push and the three ingest-control actions,
//! replayed byte for byte through the router at the capture's time: each authenticates, and
//! each answer equals the body the SDK was given in the capture (which its models parsed),
//! except for the fresh RequestId.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_api::StreamService;
use baton_api::common::time::parse_utc;
use baton_api::testing::new_task;
use baton_domain::{
    AccountId, DEFAULT_GROUP, SourceProtocol, SourceType, StreamPath, TaskId, TaskSpec, TaskStatus,
};
use serde_json::Value;
use support::Harness;

const TASK_ID: &str = "fd245384-4067-4f91-9d75-9666a6bc0001";

fn captures() -> Vec<Value> {
    captures_of(|action| action.contains("PullToPush"))
}

fn captures_of(action: impl Fn(&str) -> bool) -> Vec<Value> {
    include_str!("../testdata/sdk_wire.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| {
            c["dialect"].as_str().unwrap().starts_with("alibaba")
                && action(c["action"].as_str().unwrap())
        })
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

/// A task built from a captured `TaskInfo`.
fn spec_of(info: &Value) -> TaskSpec {
    let s = |k: &str| info[k].as_str().unwrap().to_string();
    let n = |k: &str| info[k].as_i64().unwrap();
    TaskSpec {
        name: s("TaskName"),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: serde_json::from_value(info["SourceUrls"].clone()).unwrap(),
        dst_url: s("DstUrl"),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: parse_utc(&s("StartTime")).unwrap(),
        end_time: parse_utc(&s("EndTime")).unwrap(),
        callback_url: Some(s("CallbackURL")),
        repeat_number: n("RepeatNumber") as i32,
        retry_count: n("RetryCount") as u32,
        retry_interval: n("RetryInterval") as u32,
        file_index: n("FileIndex") as u32,
        offset: n("Offset") as u32,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    }
}

fn seed(h: &Harness, spec: TaskSpec, status: TaskStatus) {
    let id = TaskId(TASK_ID.into());
    let mut task = new_task(
        id.clone(),
        AccountId("acct-a".into()),
        spec,
        support::CAPTURE_TIME,
    );
    task.runtime.status = status;
    h.service.insert(task);
}

fn generic_spec() -> TaskSpec {
    let info = serde_json::json!({
        "TaskName": "t", "SourceUrls": ["rtmp://source.example.com/live/src"],
        "DstUrl": "rtmp://push.example.com/live/dst", "StartTime": "2026-11-22T19:00:00Z",
        "EndTime": "2026-11-22T21:00:00Z", "CallbackURL": "http://callback.example.com/cb",
        "RepeatNumber": 0, "RetryCount": 3, "RetryInterval": 60, "FileIndex": 0, "Offset": 0
    });
    spec_of(&info)
}

#[tokio::test]
async fn captured_sdk_requests_get_the_answers_the_sdks_parsed() {
    let captures = captures();
    assert_eq!(captures.len(), 21, "7 actions × 3 SDK flavours");
    for c in &captures {
        let label = c["label"].as_str().unwrap();
        let expected = &c["response"]["body"];
        let h = Harness::new();
        match c["action"].as_str().unwrap() {
            "CreateLivePullToPush" => {}
            "DescribeLivePullToPush" => {
                seed(&h, spec_of(&expected["TaskInfo"]), TaskStatus::Running)
            }
            "DescribeLivePullToPushList" => seed(
                &h,
                spec_of(&expected["TaskList"][0]["TaskInfo"]),
                TaskStatus::Running,
            ),
            // The capture changes SourceUrls, which a running task refuses (seed 003).
            "UpdateLivePullToPush" | "RestartLivePullToPush" => {
                seed(&h, generic_spec(), TaskStatus::Stopped)
            }
            "StopLivePullToPush" | "DeleteLivePullToPush" => {
                seed(&h, generic_spec(), TaskStatus::Running)
            }
            other => panic!("unexpected action {other}"),
        }
        let (status, body) = h.send(request_of(c)).await;
        if c["action"] == "CreateLivePullToPush" {
            // The captured Create lists "https://vod.example.com/video/a b.mp4": a URL with a
            // literal space, which the domain refuses (as the engine does), naming the field.
            assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: {body}");
            assert_eq!(body["Code"], "InvalidParameter", "{label}");
            let message = body["Message"].as_str().unwrap();
            assert!(message.contains("SourceUrls"), "{message}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{label}: {body}");
        let mut body = body;
        let request_id = body["RequestId"].take();
        assert_eq!(request_id.as_str().unwrap().len(), 36, "{label}");
        let mut expected = expected.clone();
        expected["RequestId"] = Value::Null;
        assert_eq!(body, expected, "{label}");
    }
}

#[tokio::test]
async fn captured_ingest_control_requests_get_the_answers_the_sdks_parsed() {
    let captures = captures_of(|a| {
        matches!(
            a,
            "ForbidLiveStream" | "ResumeLiveStream" | "DescribeLiveStreamsBlockList"
        )
    });
    assert_eq!(captures.len(), 9, "3 actions × 3 SDK flavours");
    let account = AccountId("acct-a".into());
    for c in &captures {
        let label = c["label"].as_str().unwrap();
        let h = Harness::new();
        let action = c["action"].as_str().unwrap();
        if action == "DescribeLiveStreamsBlockList" {
            let path = StreamPath::new("push.example.com", "live", "capture");
            h.streams.forbid(&account, path, None, false).await.unwrap();
        }
        let (status, mut body) = h.send(request_of(c)).await;
        assert_eq!(status, StatusCode::OK, "{label}: {body}");
        let request_id = body["RequestId"].take();
        assert_eq!(request_id.as_str().unwrap().len(), 36, "{label}");
        let mut expected = c["response"]["body"].clone();
        expected["RequestId"] = Value::Null;
        assert_eq!(body, expected, "{label}");
        let blocks = h.streams.blocks(&account);
        match action {
            // The captured Forbid asks for ResumeTime 20:07:57Z or :58Z, one hour on.
            "ForbidLiveStream" => {
                assert_eq!(blocks.len(), 1, "{label}");
                assert_eq!(blocks[0].path.to_string(), "push.example.com/live/relay01");
                let resume = c["query"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p[0] == "ResumeTime")
                    .unwrap()[1]
                    .as_str()
                    .unwrap();
                assert_eq!(Some(blocks[0].resume_at), parse_utc(resume), "{label}");
            }
            "ResumeLiveStream" => assert!(blocks.is_empty(), "{label}"),
            _ => assert_eq!(blocks.len(), 1, "{label}"),
        }
    }
}

#[tokio::test]
async fn captured_update_applies_to_a_stopped_task() {
    let c = captures()
        .into_iter()
        .find(|c| c["label"] == "old:UpdateLivePullToPush")
        .unwrap();
    let h = Harness::new();
    seed(&h, generic_spec(), TaskStatus::Stopped);
    let (status, _) = h.send(request_of(&c)).await;
    assert_eq!(status, StatusCode::OK);
    let task = h.service.task(&TaskId(TASK_ID.into())).unwrap();
    assert_eq!(
        task.spec.callback_url.as_deref(),
        Some("http://callback.example.com/cb?src=relay&v=2")
    );
    assert_eq!(
        task.spec.source_urls,
        ["rtmp://source.example.com/live/src?auth_key=1700000000-0-0-abc123"]
    );
    // Replayed: the nonce is spent.
    let (status, body) = h.send(request_of(&c)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Code"], "SignatureNonceUsed");
}

#[tokio::test]
async fn captured_update_of_a_running_task_is_refused() {
    let c = captures()
        .into_iter()
        .find(|c| c["label"] == "new-v3:UpdateLivePullToPush")
        .unwrap();
    let h = Harness::new();
    seed(&h, generic_spec(), TaskStatus::Running);
    let (status, body) = h.send(request_of(&c)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Code"], "CodeTaskHasStarted");
    assert!(body["Message"].as_str().unwrap().contains("SourceUrls"));
}
