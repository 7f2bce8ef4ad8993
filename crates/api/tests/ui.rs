//! The dashboard's files through the API's router: served at `/ui/` without a token, with
//! their content types, a strict Content-Security-Policy and revalidating caches; unknown
//! paths fall back to the page (or 404 for files); the page's data calls still need a token;
//! and the files themselves keep the promises the policy relies on (no inline script or
//! style, nothing loaded from elsewhere, server data never parsed as HTML).

mod support;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use baton_api::ui::{ASSETS, CONTENT_SECURITY_POLICY};
use support::{Harness, TOKEN};
use tower::ServiceExt;

async fn get(
    h: &Harness,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = h
        .router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

fn assert_secured(headers: &HeaderMap, what: &str) {
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        CONTENT_SECURITY_POLICY,
        "{what}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{what}");
}

fn text(name: &str) -> &'static str {
    let asset = ASSETS.iter().find(|a| a.name == name).unwrap();
    std::str::from_utf8(asset.body).unwrap()
}

#[tokio::test]
async fn every_asset_is_served_without_a_token_with_its_type_policy_and_etag() {
    let h = Harness::new();
    let expected = [
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ];
    assert_eq!(expected.len(), ASSETS.len());
    for ((uri, content_type), asset) in expected.into_iter().zip(ASSETS.iter()) {
        let (status, headers, body) = get(&h, Method::GET, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers[header::CONTENT_TYPE], content_type, "{uri}");
        assert_eq!(body, asset.body, "{uri}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert_secured(&headers, uri);
        let etag = headers[header::ETAG].to_str().unwrap().to_string();

        // Revalidation: the same ETag is a 304 without a body, with the same headers.
        let (status, again, body) = get(&h, Method::GET, uri, &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(body.is_empty(), "{uri}");
        assert_eq!(again[header::ETAG], etag.as_str(), "{uri}");
        assert_secured(&again, uri);
        let (status, _, body) = get(
            &h,
            Method::GET,
            uri,
            &[("if-none-match", "\"something-else\"")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(body, asset.body, "{uri}");

        // HEAD: the headers of GET, no body.
        let (status, head, body) = get(&h, Method::HEAD, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(head[header::CONTENT_TYPE], content_type, "{uri}");
        assert!(body.is_empty(), "{uri}");
    }
}

#[tokio::test]
async fn unknown_paths_fall_back_to_the_page_and_unknown_files_are_404() {
    let h = Harness::new();
    let (status, headers, _) = get(&h, Method::GET, "/ui", &[]).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/ui/");

    for uri in [
        "/ui/index.html",
        "/ui/tasks",
        "/ui/streams/live",
        "/ui/x/y/z",
    ] {
        let (status, headers, _) = get(&h, Method::GET, uri, &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(headers[header::LOCATION], "/ui/", "{uri}");
        assert_secured(&headers, uri);
    }
    for uri in ["/ui/missing.js", "/ui/a/app.js", "/ui/.env"] {
        let (status, headers, body) = get(&h, Method::GET, uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(String::from_utf8_lossy(&body).contains("/ui/"), "{uri}");
        assert_secured(&headers, uri);
    }
    // The dashboard takes no writes.
    let (status, _, _) = get(&h, Method::POST, "/ui/", &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_pages_data_calls_need_the_token() {
    let h = Harness::new();
    let (status, _, _) = get(&h, Method::GET, "/v1/tasks", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bearer = format!("Bearer {TOKEN}");
    let (status, _, _) = get(&h, Method::GET, "/v1/tasks", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    // The rest of the API is where it was.
    let (status, _, _) = get(&h, Method::GET, "/v1/nothing", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn the_page_loads_only_its_own_files_and_has_no_inline_script_or_style() {
    let html = text("");
    // Every src/href names one of the dashboard's own files (or an in-page fragment).
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            let value = &value[..value.find('"').unwrap()];
            let own = value
                .strip_prefix("/ui/")
                .is_some_and(|f| ASSETS.iter().any(|a| !a.name.is_empty() && a.name == f));
            assert!(own || value.starts_with('#'), "{attr}{value}");
        }
    }
    // Scripts come from files only, and no markup carries script or style.
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains(" src=\"/ui/"), "{tag}");
        assert!(html[i..].starts_with(&format!("{tag}></script>")), "{tag}");
    }
    for needle in [
        " onclick=",
        " onload=",
        " onsubmit=",
        " style=",
        "<style",
        "javascript:",
    ] {
        assert!(!html.contains(needle), "{needle}");
    }
    // Nothing from elsewhere: no absolute URL in the page, the style sheet or the script
    // (the SVG's XML namespace is a name, not a fetch).
    for name in ["", "app.css", "app.js"] {
        let body = text(name);
        for needle in ["http://", "https://", "@import", "url("] {
            assert!(!body.contains(needle), "{name} contains {needle}");
        }
    }
}

#[test]
fn the_script_never_parses_server_data_as_html() {
    let js = text("app.js");
    for needle in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ] {
        assert!(!js.contains(needle), "app.js uses {needle}");
    }
    assert!(js.contains("textContent"));
}
