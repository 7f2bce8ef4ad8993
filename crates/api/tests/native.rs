//! The native API (`/v1`) through the router: its OpenAPI contract, bearer tokens, problems,
//! cursors, idempotent creates, ETags, wrong-state conflicts, groups, blocks — and the same
//! tasks the dialects see.

mod support;

use axum::http::{Method, StatusCode};
use baton_api::{LiveStreamView, PublisherView};
use baton_domain::StreamPath;
use baton_domain::time::rfc3339;
use serde_json::{Value, json};
use support::{CAPTURE_TIME, DOMAIN, DOMAIN_2, DOMAIN_B, Harness, Sig, TOKEN, TOKEN_B, TOKEN_ROOT};

const T: Option<&str> = Some(TOKEN);

fn live(name: &str, start: i64) -> Value {
    json!({"name": name, "source": {"type": "live", "urls": ["rtmp://src.example.com/live/a"]},
           "destination": "rtmp://dst.example.com/live/b",
           "start_time": rfc3339(start), "end_time": rfc3339(start + 3600)})
}

#[tokio::test]
async fn the_openapi_document_is_served_and_names_every_route() {
    let h = Harness::new();
    let (status, headers, doc) = h
        .native(Method::GET, "/v1/openapi.json", None, &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(doc["openapi"], "3.0.3");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Every route of the router, and no other.
    let routes = [
        "/v1/openapi.json",
        "/v1/whoami",
        "/v1/tasks",
        "/v1/tasks/{id}",
        "/v1/tasks/{id}/stop",
        "/v1/tasks/{id}/start",
        "/v1/tasks/{id}/restart",
        "/v1/tasks/{id}/events",
        "/v1/groups",
        "/v1/groups/{name}",
        "/v1/blocks",
        "/v1/blocks/{domain}/{app}/{stream}",
        "/v1/streams",
        "/v1/streams/{domain}/{app}/{stream}/kick",
        "/v1/nodes",
    ];
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    let mut expected = routes.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
    // Every route answers something other than the fallback's 404 problem.
    for route in routes {
        let path = route
            .replace("{id}", "x")
            .replace("{name}", "g")
            .replace("{domain}", DOMAIN)
            .replace("{app}", "live")
            .replace("{stream}", "s");
        let methods = doc["paths"][route].as_object().unwrap().keys();
        for method in methods.filter(|m| *m != "parameters") {
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let (status, _, body) = h.native(m, &path, T, &[], None).await;
            assert!(
                !(status == StatusCode::NOT_FOUND
                    && body["detail"]
                        .as_str()
                        .unwrap_or("")
                        .contains("no such resource")),
                "{method} {route}: {body}"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {route}");
        }
    }
}

#[tokio::test]
async fn tokens_are_required_and_scope_the_account() {
    let h = Harness::new();
    let (status, headers, body) = h.native(Method::GET, "/v1/tasks", None, &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(body["code"], "unauthorized");
    let (status, _, _) = h
        .native(Method::GET, "/v1/tasks", Some("btn_nope"), &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, _, me) = h.native(Method::GET, "/v1/whoami", T, &[], None).await;
    assert_eq!(me, json!({"account": "acct-a", "token": "test"}));
    let (status, _, task) = h
        .native(
            Method::POST,
            "/v1/tasks",
            T,
            &[],
            Some(live("mine", CAPTURE_TIME)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let path = format!("/v1/tasks/{}", task["id"].as_str().unwrap());
    let (status, _, body) = h.native(Method::GET, &path, Some(TOKEN_B), &[], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn task_lifecycle_with_etags_and_conflicts() {
    let h = Harness::new();
    let (status, headers, task) = h
        .native(
            Method::POST,
            "/v1/tasks",
            T,
            &[],
            Some(live("one", CAPTURE_TIME + 600)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let id = task["id"].as_str().unwrap().to_string();
    assert_eq!(headers["location"], format!("/v1/tasks/{id}"));
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"v{}\"", task["version"]));
    assert_eq!(task["state"], "not_started");
    assert_eq!(task["group"], "default");
    assert_eq!(
        task["source"],
        json!({"type": "live", "protocol": "rtmp", "urls": ["rtmp://src.example.com/live/a"]})
    );
    assert_eq!(task["retry"], json!({"count": 3, "interval_seconds": 60}));
    assert_eq!(task["relay"], Value::Null);
    assert_eq!(task["last_error"], Value::Null);
    let path = format!("/v1/tasks/{id}");

    // PATCH with the current ETag, then a stale one: 412 naming the current ETag.
    let (status, headers, patched) = h
        .native(
            Method::PATCH,
            &path,
            T,
            &[("if-match", &etag)],
            Some(json!({"name": "renamed", "callback_url": "http://cb.example.com/x"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "renamed");
    let new_etag = headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let (status, _, body) = h
        .native(
            Method::PATCH,
            &path,
            T,
            &[("if-match", &etag)],
            Some(json!({"name": "lost"})),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(body["code"], "precondition_failed");
    assert_eq!(body["current_etag"], new_etag.as_str());
    // null clears the callback.
    let (_, _, cleared) = h
        .native(
            Method::PATCH,
            &path,
            T,
            &[],
            Some(json!({"callback_url": null})),
        )
        .await;
    assert_eq!(cleared["callback_url"], Value::Null);
    assert_eq!(cleared["name"], "renamed");

    // Stop a task that has not started; again: 409 with the state.
    let (status, _, stopped) = h
        .native(Method::POST, &format!("{path}/stop"), T, &[], None)
        .await;
    assert_eq!(
        (status, stopped["state"].as_str()),
        (StatusCode::OK, Some("stopped"))
    );
    let (status, _, body) = h
        .native(Method::POST, &format!("{path}/stop"), T, &[], None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        (body["code"].as_str(), body["current_state"].as_str()),
        (Some("wrong_state"), Some("stopped"))
    );
    let (status, _, started) = h
        .native(
            Method::POST,
            &format!("{path}/start"),
            T,
            &[],
            Some(json!({"from_start": true})),
        )
        .await;
    assert_eq!(
        (status, started["state"].as_str()),
        (StatusCode::OK, Some("not_started")),
        "{started}"
    );
    let (status, _, body) = h
        .native(Method::POST, &format!("{path}/start"), T, &[], None)
        .await;
    assert_eq!(
        (status, body["current_state"].as_str()),
        (StatusCode::CONFLICT, Some("not_started"))
    );
    // Restart before the start time: 409.
    let (status, _, body) = h
        .native(Method::POST, &format!("{path}/restart"), T, &[], None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("wrong_state"))
    );

    let (status, _, events) = h
        .native(Method::GET, &format!("{path}/events"), T, &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events["next_cursor"], Value::Null);

    let (status, _, _) = h.native(Method::DELETE, &path, T, &[], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = h.native(Method::GET, &path, T, &[], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn idempotent_creates() {
    let h = Harness::new();
    let key = [("idempotency-key", "create-1")];
    let body = json!({"source": {"type": "url", "urls": ["http://h.example.com/a.mp4", "http://h.example.com/b.mp4"]},
                      "destination": "rtmp://d.example.com/live/s", "end_time": rfc3339(CAPTURE_TIME + 600), "repeat": -1});
    let (status, _, first) = h
        .native(Method::POST, "/v1/tasks", T, &key, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["playlist"],
        json!({"file_index": 0, "offset_seconds": 0, "loop": 0, "pass": 1, "passes": null})
    );
    let (status, headers, again) = h
        .native(Method::POST, "/v1/tasks", T, &key, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again["id"], first["id"]);
    let (_, _, list) = h.native(Method::GET, "/v1/tasks", T, &[], None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // The same key for another request; the same key of another account is another task.
    let mut other = body.clone();
    other["repeat"] = json!(2);
    let (status, _, problem) = h
        .native(Method::POST, "/v1/tasks", T, &key, Some(other))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_key_reused"))
    );
    let (status, _, theirs) = h
        .native(Method::POST, "/v1/tasks", Some(TOKEN_B), &key, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(theirs["id"], first["id"]);
}

#[tokio::test]
async fn cursors_page_through_everything_once() {
    let h = Harness::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, _, t) = h
            .native(
                Method::POST,
                "/v1/tasks",
                T,
                &[],
                Some(live(&format!("t{i}"), CAPTURE_TIME)),
            )
            .await;
        ids.push(t["id"].as_str().unwrap().to_string());
        if i % 2 == 0 {
            h.clock.advance(1);
        }
    }
    let mut seen = Vec::new();
    let mut path = "/v1/tasks?limit=2".to_string();
    for _ in 0..10 {
        let (status, _, page) = h.native(Method::GET, &path, T, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/tasks?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "{seen:?}");
    // Newest first.
    assert_eq!(seen.last(), Some(&ids[0]));
    let (status, _, body) = h
        .native(Method::GET, "/v1/tasks?cursor=garbage", T, &[], None)
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cursor"))
    );
    let (_, _, filtered) = h
        .native(Method::GET, "/v1/tasks?name=T3&state=running", T, &[], None)
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1, "{filtered}");
}

#[tokio::test]
async fn bad_requests_are_problems_naming_the_field() {
    let h = Harness::new();
    let base = live("x", CAPTURE_TIME);
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, status, field) in [
        (
            with("end_time", json!("tomorrow")),
            StatusCode::BAD_REQUEST,
            "end_time",
        ),
        (
            with("end_time", json!(rfc3339(CAPTURE_TIME - 1))),
            StatusCode::BAD_REQUEST,
            "end_time",
        ),
        (
            with("destination", json!("http://x/y")),
            StatusCode::BAD_REQUEST,
            "destination",
        ),
        (with("repeat", json!(-2)), StatusCode::BAD_REQUEST, "repeat"),
        (
            with("retry", json!({"count": 101})),
            StatusCode::BAD_REQUEST,
            "retry.count",
        ),
        (with("surprise", json!(1)), StatusCode::BAD_REQUEST, "body"),
        (with("group", json!("nosuch")), StatusCode::NOT_FOUND, ""),
        (
            with("source", json!({"type": "live", "urls": ["rtsps://h/cam"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "source.urls",
        ),
        // SRT live sources are built (MPEG-TS over SRT).
        (
            with(
                "source",
                json!({"type": "live", "urls": ["srt://h:9000?streamid=a"]}),
            ),
            StatusCode::CREATED,
            "",
        ),
        // RTSP cameras are built (not RTSP over TLS, above).
        (
            with(
                "source",
                json!({"type": "live", "urls": ["rtsp://admin:pw@cam.example/h264"]}),
            ),
            StatusCode::CREATED,
            "",
        ),
        // HLS live sources are built.
        (
            with(
                "source",
                json!({"type": "live", "urls": ["http://h/a.m3u8"]}),
            ),
            StatusCode::CREATED,
            "",
        ),
        (
            with("source", json!({"type": "url", "urls": ["http://h/a.mp4"]})).clone(),
            StatusCode::CREATED,
            "",
        ),
        (
            {
                let mut b = with("source", json!({"type": "url", "urls": ["http://h/a.mp4"]}));
                b["playlist_start"] = json!({"file_index": 3});
                b
            },
            StatusCode::BAD_REQUEST,
            "playlist_start.file_index",
        ),
        (json!([]), StatusCode::BAD_REQUEST, "body"),
    ] {
        let (got, headers, problem) = h
            .native(Method::POST, "/v1/tasks", T, &[], Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body} → {problem}");
        if status.is_client_error() {
            assert_eq!(
                headers["content-type"], "application/problem+json",
                "{body}"
            );
            if !field.is_empty() {
                assert_eq!(problem["field"], field, "{body} → {problem}");
            }
        }
    }
    let (status, _, _) = h.native(Method::GET, "/v1/nothing", T, &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = h.native(Method::PUT, "/v1/tasks", T, &[], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    let (status, _, _) = h
        .native(Method::GET, "/v1/tasks?limit=0", T, &[], None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = h
        .native(Method::GET, "/v1/tasks/bad%20id", T, &[], None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn groups_blocks_and_kicks() {
    let h = Harness::new();
    let (status, _, g) = h
        .native(
            Method::POST,
            "/v1/groups",
            T,
            &[],
            Some(json!({"name": "events", "tags": [{"key": "team", "value": "ops"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(
        g["tags"],
        json!([{"category": "Custom", "key": "team", "value": "ops"}])
    );
    let (status, _, body) = h
        .native(
            Method::POST,
            "/v1/groups",
            T,
            &[],
            Some(json!({"name": "events"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("group_exists"))
    );
    let mut t = live("in-group", CAPTURE_TIME);
    t["group"] = json!("events");
    let (status, _, task) = h.native(Method::POST, "/v1/tasks", T, &[], Some(t)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, body) = h
        .native(Method::DELETE, "/v1/groups/events", T, &[], None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("group_not_empty"))
    );
    let (_, _, listed) = h
        .native(Method::GET, "/v1/tasks?group=events", T, &[], None)
        .await;
    assert_eq!(listed["items"][0]["id"], task["id"]);
    h.native(
        Method::DELETE,
        &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
        T,
        &[],
        None,
    )
    .await;
    let (status, _, _) = h
        .native(Method::DELETE, "/v1/groups/events", T, &[], None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, deleted) = h
        .native(Method::GET, "/v1/groups?status=deleted", T, &[], None)
        .await;
    assert_eq!(deleted["items"][0]["status"], "deleted");

    let until = rfc3339(CAPTURE_TIME + 3600);
    let path = format!("/v1/blocks/{DOMAIN}/live/show");
    let (status, _, block) = h
        .native(
            Method::PUT,
            &path,
            T,
            &[],
            Some(json!({"resume_at": until})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{block}");
    assert_eq!(block["resume_at"], until.as_str());
    let (status, _, _) = h
        .native(
            Method::PUT,
            &format!("/v1/blocks/{DOMAIN}/live/other"),
            T,
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, page) = h
        .native(Method::GET, "/v1/blocks?limit=1", T, &[], None)
        .await;
    assert_eq!(
        page["items"][0]["stream"], "other",
        "latest end first: {page}"
    );
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, _, page2) = h
        .native(
            Method::GET,
            &format!("/v1/blocks?limit=1&cursor={cursor}"),
            T,
            &[],
            None,
        )
        .await;
    assert_eq!(page2["items"][0]["stream"], "show");
    assert_eq!(page2["next_cursor"], Value::Null);
    let (_, _, found) = h
        .native(
            Method::GET,
            "/v1/blocks?stream=HO&match=contains",
            T,
            &[],
            None,
        )
        .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let (status, _, _) = h.native(Method::DELETE, &path, T, &[], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = h
        .native(Method::PUT, "/v1/blocks/b.example.com/live/s", T, &[], None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("domain_not_owned"))
    );
    let kicks = h.streams.kicks().len();
    let (status, _, _) = h
        .native(
            Method::POST,
            &format!("/v1/streams/{DOMAIN}/live/x/kick"),
            T,
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.streams.kicks().len(), kicks + 1);
}

#[tokio::test]
async fn one_task_model_under_every_api() {
    let h = Harness::new();
    let (_, _, task) = h
        .native(
            Method::POST,
            "/v1/tasks",
            T,
            &[],
            Some(live("native", CAPTURE_TIME)),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let (_, body) = h
        .volc("ListPullToPushTaskV2", json!({"Title": "native"}))
        .await;
    assert_eq!(body["Result"]["List"][0]["TaskId"], id);
    let (_, body) = h
        .call(
            Sig::V3,
            "DescribeLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", id)],
        )
        .await;
    assert_eq!(body["TaskInfo"]["TaskName"], "native", "{body}");
    let (status, _) = h.volc("StopPullToPushTask", json!({"TaskId": id})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, now) = h
        .native(Method::GET, &format!("/v1/tasks/{id}"), T, &[], None)
        .await;
    assert_eq!(now["state"], "stopped");
}

fn relay_view(state: baton_api::RelayPhase) -> baton_api::RelayView {
    baton_api::RelayView {
        state,
        uptime_seconds: 12.5,
        bitrate_in_bps: 0,
        bitrate_out_bps: 0,
        fps: 0.0,
        bytes_in: 0,
        bytes_out: 0,
        frames_out: 0,
        frames_dropped: 0,
        source_connections: 0,
        destination_sessions: 1,
        srt: None,
        source_transport: Some(baton_api::TransportView {
            protocol: "rtmp",
            tls: None,
        }),
        destination_transport: Some(baton_api::TransportView {
            protocol: "rtmps",
            tls: Some(baton_api::TlsView {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
                peer_names: vec!["live-api-s.facebook.com".into()],
                subject: "CN=*.facebook.com,O=Meta Platforms\\, Inc.,C=US".into(),
                issuer: "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US".into(),
            }),
        }),
        destination_srt: None,
        destinations: vec![baton_api::DestinationView {
            id: 0,
            url: "rtmp://d.example.com/live/out".into(),
            state: "reconnecting",
            bitrate_out_bps: 0,
            bytes_out: 7,
            frames_out: 3,
            frames_dropped: 2,
            sessions: 1,
            transport: None,
            last_error: Some(("Disconnected", "destination: connection reset".into())),
        }],
        active_source: 1,
        source_switches: 1,
        sources: vec![Some(("Timeout", "source: no media".into())), None],
        slate_active: true,
        slate_starts: 2,
    }
}

fn event(
    id: &str,
    seq: u64,
    state: baton_domain::CallbackState,
    url: &str,
) -> baton_domain::EventRecord {
    baton_domain::EventRecord {
        event: baton_domain::CallbackEvent {
            id: format!("{id}.{seq}"),
            seq,
            account: baton_domain::AccountId("acct-a".into()),
            task_id: baton_domain::TaskId(id.into()),
            task_name: "relay".into(),
            url: url.into(),
            state,
            reason: None,
            exit_reason: None,
            item: None,
            detail: None,
            auth_key: None,
            time: CAPTURE_TIME + seq as i64,
        },
        attempts: 0,
        delivered_at: Some(CAPTURE_TIME + seq as i64),
        last_error: None,
        given_up: false,
    }
}

#[tokio::test]
async fn a_running_task_says_whether_its_relay_is_connecting_or_forwarding() {
    use baton_api::RelayPhase;
    use baton_domain::CallbackState;
    let h = Harness::new();
    let (status, _, task) = h
        .native(
            Method::POST,
            "/v1/tasks",
            T,
            &[],
            Some(live("one", CAPTURE_TIME)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let id = task["id"].as_str().unwrap().to_string();
    let tid = baton_domain::TaskId(id.clone());
    h.service
        .set_runtime(&tid, |r| r.status = baton_domain::TaskStatus::Running);
    let path = format!("/v1/tasks/{id}");

    // Status 1 (the provider's "running") while nothing flows yet: the relay says so.
    h.service
        .set_relay(&tid, Some(relay_view(RelayPhase::Connecting)));
    let (_, _, doc) = h.native(Method::GET, &path, T, &[], None).await;
    assert_eq!(
        (doc["state"].as_str(), doc["relay"]["state"].as_str()),
        (Some("running"), Some("connecting"))
    );
    h.service
        .set_relay(&tid, Some(relay_view(RelayPhase::Forwarding)));
    let (_, _, doc) = h.native(Method::GET, &path, T, &[], None).await;
    assert_eq!(doc["relay"]["state"], "forwarding");
    // Each side's transport, TLS details for an rtmps one.
    assert_eq!(doc["relay"]["source_transport"]["protocol"], "rtmp");
    assert_eq!(doc["relay"]["source_transport"]["tls"], Value::Null);
    let tls = &doc["relay"]["destination_transport"]["tls"];
    assert_eq!(doc["relay"]["destination_transport"]["protocol"], "rtmps");
    assert_eq!(
        (tls["version"].as_str(), tls["peer_names"][0].as_str()),
        (Some("TLSv1.3"), Some("live-api-s.facebook.com"))
    );
    assert_eq!(
        tls["issuer"].as_str(),
        Some("CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US")
    );
    assert_eq!(doc["relay"]["destination_srt"], Value::Null);
    // Each destination on its own (issue 16), with its own error.
    let dst = &doc["relay"]["destinations"][0];
    assert_eq!(
        (
            dst["id"].as_u64(),
            dst["state"].as_str(),
            dst["sessions"].as_u64()
        ),
        (Some(0), Some("reconnecting"), Some(1)),
        "{doc}"
    );
    assert_eq!(dst["frames_dropped"], 2);
    assert_eq!(dst["last_error"]["code"], "Disconnected");
    assert_eq!(dst["transport"], Value::Null);
    // Backup sources: which one is in use, how often the relay switched, why it left each.
    assert_eq!(
        (
            doc["relay"]["active_source"].as_u64(),
            doc["relay"]["source_switches"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let sources = &doc["relay"]["sources"];
    assert_eq!(sources[0]["last_error"]["code"], "Timeout", "{doc}");
    // The slate: playing, and how often it started.
    assert_eq!(doc["relay"]["slate_active"], true);
    assert_eq!(doc["relay"]["slate_starts"], 2);
    assert_eq!(sources[1]["index"], 1);
    assert_eq!(sources[1].get("last_error"), None);
    let (_, _, list) = h.native(Method::GET, "/v1/tasks", T, &[], None).await;
    assert_eq!(list["items"][0]["relay"]["state"], "forwarding", "{list}");
    // An SRT destination: its transport and send statistics.
    let mut srt = relay_view(RelayPhase::Forwarding);
    srt.destination_transport = Some(baton_api::TransportView {
        protocol: "srt",
        tls: None,
    });
    srt.destination_srt = Some(baton_api::SrtSendView {
        rtt_ms: 3.5,
        latency_ms: 120,
        packets_sent: 5000,
        packets_retransmitted: 12,
        packets_lost: 10,
        packets_dropped: 1,
        bytes_sent: 6_800_000,
        send_buffer_packets: 40,
        send_buffer_bytes: 52_640,
        send_buffer_ms: 90,
    });
    h.service.set_relay(&tid, Some(srt));
    let (_, _, doc) = h.native(Method::GET, &path, T, &[], None).await;
    assert_eq!(doc["relay"]["destination_transport"]["protocol"], "srt");
    let out = &doc["relay"]["destination_srt"];
    assert_eq!(
        (
            out["packets_sent"].as_u64(),
            out["packets_dropped"].as_u64(),
            out["send_buffer_ms"].as_u64(),
            out["rtt_ms"].as_f64()
        ),
        (Some(5000), Some(1), Some(90), Some(3.5)),
        "{doc}"
    );

    // The event log: the moment forwarding began, recorded, never delivered.
    h.service.set_events(
        &tid,
        vec![
            event(&id, 2, CallbackState::Forwarding, ""),
            event(
                &id,
                1,
                CallbackState::Running,
                "https://hooks.example.com/cb",
            ),
        ],
    );
    let (status, _, events) = h
        .native(Method::GET, &format!("{path}/events"), T, &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<(&str, &str)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["state"].as_str().unwrap(),
                e["delivery"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("Forwarding", "none"), ("Running", "delivered")]);
    assert_eq!(
        events["items"][0]["delivered_at"],
        Value::Null,
        "none: no delivery"
    );
    assert_eq!(events["items"][1]["last_error"], Value::Null);

    // A failing callback says why: pending with its last error; given up, and when.
    let mut pending = event(
        &id,
        4,
        CallbackState::Offline,
        "https://hooks.example.com/cb",
    );
    (pending.attempts, pending.delivered_at) = (2, None);
    pending.last_error = Some("HTTP 503".into());
    let mut given_up = event(
        &id,
        3,
        CallbackState::Recovering,
        "https://hooks.example.com/cb",
    );
    given_up.attempts = 60;
    given_up.given_up = true;
    given_up.last_error = Some("connect error: Connection refused (os error 111)".into());
    h.service.set_events(&tid, vec![pending, given_up]);
    let (_, _, events) = h
        .native(Method::GET, &format!("{path}/events"), T, &[], None)
        .await;
    let items = &events["items"];
    assert_eq!(
        (
            &items[0]["delivery"],
            &items[0]["attempts"],
            &items[0]["last_error"],
            &items[0]["delivered_at"]
        ),
        (
            &json!("pending"),
            &json!(2),
            &json!("HTTP 503"),
            &Value::Null
        )
    );
    assert_eq!(items[1]["delivery"], "given_up");
    assert_eq!(items[1]["attempts"], 60);
    assert_eq!(
        items[1]["last_error"],
        "connect error: Connection refused (os error 111)"
    );
    assert_eq!(items[1]["delivered_at"], rfc3339(CAPTURE_TIME + 3));

    // What the relay did: log-only events with their detail, never delivered.
    let mut switched = event(&id, 7, CallbackState::SourceSwitched, "");
    switched.event.detail =
        Some("source 0 -> 1: timeout: no media from the source within 5s".into());
    let mut down = event(&id, 6, CallbackState::DestinationDown, "");
    down.event.detail = Some("destination 1: connection-refused: rtmp://u:***@b/live".into());
    let mut taken = event(&id, 5, CallbackState::TakenOver, "");
    taken.event.detail = Some("from node a:8080 (n1), epoch 3".into());
    h.service.set_events(&tid, vec![switched, down, taken]);
    let (_, _, events) = h
        .native(Method::GET, &format!("{path}/events"), T, &[], None)
        .await;
    let got: Vec<(&str, &str, &str)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["state"].as_str().unwrap(),
                e["detail"].as_str().unwrap(),
                e["delivery"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "SourceSwitched",
                "source 0 -> 1: timeout: no media from the source within 5s",
                "none"
            ),
            (
                "DestinationDown",
                "destination 1: connection-refused: rtmp://u:***@b/live",
                "none"
            ),
            ("TakenOver", "from node a:8080 (n1), epoch 3", "none"),
        ]
    );
    // A provider callback has none.
    h.service.set_events(
        &tid,
        vec![event(
            &id,
            8,
            CallbackState::Running,
            "https://hooks.example.com/cb",
        )],
    );
    let (_, _, events) = h
        .native(Method::GET, &format!("{path}/events"), T, &[], None)
        .await;
    assert_eq!(events["items"][0]["detail"], Value::Null);
}

#[tokio::test]
async fn the_openapi_document_names_every_relay_and_event_state() {
    let h = Harness::new();
    let (_, _, doc) = h
        .native(Method::GET, "/v1/openapi.json", None, &[], None)
        .await;
    let schemas = &doc["components"]["schemas"];
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("an enum: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let relay: Vec<String> = baton_api::RelayPhase::ALL
        .into_iter()
        .map(|p| baton_api::native::dto::relay_state_name(p).to_string())
        .collect();
    assert_eq!(
        names(&schemas["Relay"]["properties"]["state"]["enum"]),
        relay
    );
    let events: Vec<String> = baton_domain::CallbackState::ALL
        .into_iter()
        .map(|s| s.as_str().to_string())
        .collect();
    assert_eq!(
        names(&schemas["Event"]["properties"]["state"]["enum"]),
        events
    );
}

fn live_stream(domain: &str, app: &str, stream: &str, publishing: bool) -> LiveStreamView {
    LiveStreamView {
        path: StreamPath::new(domain, app, stream),
        publisher: publishing.then(|| PublisherView {
            protocol: Some("rtmp"),
            remote: Some("192.0.2.10:50000".parse().unwrap()),
            started_at: CAPTURE_TIME - 90,
            uptime_seconds: 90.25,
            video: Some(support::h264_720p_high()),
            audio: Some(support::aac_lc_stereo()),
            fps: 29.971,
            bitrate_in_bps: 2_500_000,
            video_bitrate_bps: 2_372_000,
            audio_bitrate_bps: 128_000,
        }),
        players: 2,
        gop_cache_frames: 64,
        gop_cache_bytes: 700_000,
        frames_in: 9_000,
        frames_dropped: 3,
        forbidden_until: None,
    }
}

#[tokio::test]
async fn live_streams_are_listed_for_their_domains_owner_with_filters() {
    let h = Harness::new();
    h.streams.set_live(vec![
        live_stream(DOMAIN_2, "live", "b", true),
        live_stream(DOMAIN, "live", "a", true),
        live_stream(DOMAIN, "other", "watched", false),
        live_stream(DOMAIN_B, "live", "theirs", true),
    ]);
    let (status, _, body) = h.native(Method::GET, "/v1/streams", T, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["stream"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a", "watched", "b"],
        "sorted, and only the caller's domains"
    );
    assert_eq!(
        items[0],
        json!({
            "domain": DOMAIN, "app": "live", "stream": "a", "publishing": true,
            "protocol": "rtmp", "publisher_addr": "192.0.2.10:50000",
            "started_at": rfc3339(CAPTURE_TIME - 90), "uptime_seconds": 90.25,
            "video": {"codec": "H.264", "width": 1280, "height": 720, "profile": "High",
                      "level": "3.1", "fps": 29.97},
            "audio": {"codec": "AAC", "sample_rate": 44100, "channels": 2, "profile": "LC"},
            "bitrate_in_bps": 2_500_000, "video_bitrate_bps": 2_372_000,
            "audio_bitrate_bps": 128_000, "players": 2, "gop_cache_frames": 64,
            "gop_cache_bytes": 700_000, "frames_in": 9_000, "frames_dropped": 3,
            "forbidden": false, "forbidden_until": null,
        })
    );
    let watched = &items[1];
    assert_eq!(
        (
            &watched["publishing"],
            &watched["protocol"],
            &watched["video"],
            &watched["bitrate_in_bps"]
        ),
        (&json!(false), &json!(null), &json!(null), &json!(0))
    );
    // Filters, and a forbidden stream says until when.
    let until = rfc3339(CAPTURE_TIME + 3600);
    let (status, _, _) = h
        .native(
            Method::PUT,
            &format!("/v1/blocks/{DOMAIN}/live/a"),
            T,
            &[],
            Some(json!({"resume_at": until})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = h
        .native(
            Method::GET,
            &format!("/v1/streams?domain={}&app=live", DOMAIN.to_uppercase()),
            T,
            &[],
            None,
        )
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["items"][0]["forbidden"], true);
    assert_eq!(body["items"][0]["forbidden_until"], until);
    // The other account sees its own stream only; a bad filter is a 400.
    let (_, _, body) = h
        .native(Method::GET, "/v1/streams", Some(TOKEN_B), &[], None)
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["stream"], "theirs");
    let (status, _, body) = h
        .native(Method::GET, "/v1/streams?domain=a%2Fb", T, &[], None)
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("domain"))
    );
}

/// `/v1/nodes`: every node with its heartbeat's age, aliveness, capacity and tasks — to the
/// root account only (nodes hold every account's tasks); others get the forbidden problem.
#[tokio::test]
async fn nodes_are_listed_to_the_root_account_only() {
    let h = Harness::new();
    let (status, _, body) = h
        .native(Method::GET, "/v1/nodes", Some(TOKEN_ROOT), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"items": [
            {"id": "n1", "name": "n1.example:8080", "started_at": "2023-11-14T22:13:20Z",
             "heartbeat_age_seconds": 1.25, "alive": true, "capacity": 50, "tasks": 2,
             "task_ids": ["t-1", "t-2"]},
            {"id": "n2", "name": "n2.example:8080", "started_at": "2023-11-14T22:13:20Z",
             "heartbeat_age_seconds": 42.0, "alive": false, "capacity": 50, "tasks": 0,
             "task_ids": []},
        ], "unowned_tasks": 3})
    );
    let (status, headers, body) = h.native(Method::GET, "/v1/nodes", T, &[], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["code"], "forbidden");
    assert!(
        body["detail"].as_str().unwrap().contains("`root` account"),
        "{body}"
    );
    let (status, _, _) = h.native(Method::GET, "/v1/nodes", None, &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
