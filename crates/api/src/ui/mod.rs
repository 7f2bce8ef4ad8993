//! The web dashboard at `/ui/` of the API listener: one page of plain JavaScript that talks
//! only to the native API (`/v1`) with the bearer token the operator signs in with.
//!
//! The assets are compiled into the binary (`include_bytes!`), so the dashboard works offline
//! and always matches the server that serves it; there is no build step and nothing is fetched
//! from elsewhere (no CDN, no web fonts). Serving them needs no token: they hold no data, and
//! every data call the page makes carries `Authorization: Bearer <token>` like any API client.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and connections from
//! this origin only; no inline script or style, no frames, no form posts), `nosniff`, and
//! `Cache-Control: no-cache` with a strong ETag of the content: browsers revalidate on every
//! load (a cheap 304), so a new server version never runs with a stale script.
//!
//! Paths: `/ui` redirects to `/ui/`; `/ui/` is the page; `/ui/<asset>` an asset. An unknown
//! path that names a file (its last segment has a dot) is a 404; any other path under `/ui/`
//! (`index.html`, a deep link, a typo) redirects to the page, which keeps the URL's fragment.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::common::signature::hex;

/// Where the dashboard is mounted.
pub const PATH: &str = "/ui/";

/// The policy every dashboard answer carries. `connect-src 'self'`: the page may call only
/// the API it came from.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its name under `/ui/` (`""` is the page itself).
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// The dashboard's files.
pub const ASSETS: [Asset; 4] = [
    Asset {
        name: "",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("favicon.svg"),
    },
];

/// The dashboard's routes (GET and HEAD).
pub fn router() -> Router {
    Router::new()
        .route("/ui", get(redirect_to_page))
        .route("/ui/", get(page))
        .route("/ui/{*path}", get(asset))
}

async fn redirect_to_page() -> Response {
    redirect(StatusCode::PERMANENT_REDIRECT)
}

async fn page(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if let Some(i) = ASSETS
        .iter()
        .position(|a| !a.name.is_empty() && a.name == path)
    {
        return serve(i, &headers);
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') && path != "index.html" {
        let mut response = (
            StatusCode::NOT_FOUND,
            "the dashboard has no such file; it starts at /ui/\n",
        )
            .into_response();
        secure(response.headers_mut());
        response
    } else {
        // A deep link or a typo: the page (whose routes live in the fragment).
        redirect(StatusCode::SEE_OTHER)
    }
}

fn redirect(status: StatusCode) -> Response {
    let mut response =
        (status, [(header::LOCATION, HeaderValue::from_static(PATH))]).into_response();
    secure(response.headers_mut());
    response
}

/// Answers asset `i`, or 304 when the client's `If-None-Match` names its ETag.
fn serve(i: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[i];
    let tag = &etags()[i];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = asset.body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(headers);
    response
}

/// The headers of every dashboard answer.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The sign-in link's token is in the fragment, which browsers never send; no referrer
    // leaves the page either way.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The assets' ETags (`"<first 16 bytes of SHA-256, hex>"`), computed once.
fn etags() -> &'static [String; ASSETS.len()] {
    static TAGS: OnceLock<[String; ASSETS.len()]> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .each_ref()
            .map(|a| format!("\"{}\"", hex(&Sha256::digest(a.body)[..16])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_differ_per_asset_and_are_quoted() {
        let tags = etags();
        for t in tags {
            assert!(
                t.starts_with('"') && t.ends_with('"') && t.len() == 34,
                "{t}"
            );
        }
        let mut unique = tags.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ASSETS.len());
    }
}
