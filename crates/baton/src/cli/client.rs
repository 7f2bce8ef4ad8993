//! The HTTP side of the API commands: bearer auth, percent-encoded paths, problem documents,
//! bounded retries, and cursor following.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use super::output::escape;

/// Attempts of a request that may be repeated (transport errors, 429, 502–504).
const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` the CLI waits out before giving up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Pages `--all` follows at most (a server that never ends a list must not hang the CLI).
pub const MAX_PAGES: usize = 10_000;

/// An RFC 7807 problem document with Baton's extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub current_state: Option<String>,
    #[serde(default)]
    pub current_etag: Option<String>,
}

/// Why a command failed; decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The server answered with an error (exit 1).
    Api {
        status: StatusCode,
        problem: Box<Problem>,
    },
    /// A usage or local error, or an answer the CLI cannot read (exit 1).
    Usage(anyhow::Error),
    /// The server could not be reached (exit 2).
    Unreachable { endpoint: String, cause: String },
}

impl Failure {
    pub fn usage(message: impl fmt::Display) -> Failure {
        Failure::Usage(anyhow::anyhow!("{message}"))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Api { .. } | Failure::Usage(_) => 1,
            Failure::Unreachable { .. } => 2,
        }
    }

    /// The API error code (`not_found`, ...), if the server sent one.
    #[cfg(test)]
    pub fn code(&self) -> Option<&str> {
        match self {
            Failure::Api { problem, .. } => problem.code.as_deref(),
            _ => None,
        }
    }

    /// The lines printed to stderr: `error: <detail> (<code>)`, then `current state: <state>`
    /// and the other details the problem carries.
    pub fn render(&self) -> String {
        match self {
            Failure::Api { status, problem } => {
                let detail = problem
                    .detail
                    .clone()
                    .filter(|d| !d.is_empty())
                    .or_else(|| problem.title.clone().filter(|t| !t.is_empty()))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                let code = problem
                    .code
                    .clone()
                    .unwrap_or_else(|| format!("http_{}", status.as_u16()));
                // The detail often quotes the request's values: printed escaped.
                let mut out = format!("error: {} ({})", escape(&detail), escape(&code));
                if let Some(field) = &problem.field {
                    out.push_str(&format!("\nfield: {}", escape(field)));
                }
                if let Some(state) = &problem.current_state {
                    out.push_str(&format!("\ncurrent state: {}", escape(state)));
                }
                if let Some(etag) = &problem.current_etag {
                    out.push_str(&format!("\ncurrent etag: {}", escape(etag)));
                }
                out
            }
            Failure::Usage(e) => format!("error: {}", escape(&format!("{e:#}"))),
            Failure::Unreachable { endpoint, cause } => format!(
                "error: cannot reach the Baton API at {endpoint}: {cause}\n\
                 (is `baton serve` running there? set the endpoint with --endpoint, \
                 BATON_ENDPOINT or `endpoint = \"...\"` in the CLI config file)"
            ),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Usage(e)
    }
}

/// The problem of a non-2xx answer; answers that are not problem documents (a proxy's HTML
/// page, an older server without `/v1`) become one naming the status and the request.
pub fn problem_of(status: StatusCode, body: &[u8], what: &str) -> Problem {
    match serde_json::from_slice::<Problem>(body) {
        Ok(p) if p.code.is_some() || p.detail.is_some() => p,
        _ => {
            let text = String::from_utf8_lossy(body);
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let first: String = first.trim().chars().take(200).collect();
            let detail = if first.is_empty() {
                format!("HTTP {status} for {what} (not a problem document)")
            } else {
                format!("HTTP {status} for {what}: {first}")
            };
            Problem {
                status: Some(status.as_u16()),
                detail: Some(detail),
                ..Problem::default()
            }
        }
    }
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Repeating it cannot do twice what it does once (GET, PUT, DELETE, a create with an
    /// Idempotency-Key): retried on transport errors, 429 and 502–504.
    Safe,
    /// Retried only when the connection could not be made (nothing was sent).
    ConnectOnly,
}

/// One API request; `path` are the segments after `/v1`, percent-encoded when sent.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub retry: Retry,
}

impl Request {
    pub fn new(method: Method, path: &[&str]) -> Request {
        let retry = if method == Method::POST || method == Method::PATCH {
            Retry::ConnectOnly
        } else {
            Retry::Safe
        };
        Request {
            method,
            path: path.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            retry,
        }
    }

    pub fn get(path: &[&str]) -> Request {
        Request::new(Method::GET, path)
    }

    pub fn query(mut self, key: &'static str, value: Option<impl ToString>) -> Request {
        if let Some(v) = value {
            self.query.push((key, v.to_string()));
        }
        self
    }

    pub fn header(mut self, key: &'static str, value: Option<String>) -> Request {
        if let Some(v) = value {
            self.headers.push((key, v));
        }
        self
    }

    pub fn json(mut self, body: Value) -> Request {
        self.body = Some(body);
        self
    }

    pub fn retry(mut self, retry: Retry) -> Request {
        self.retry = retry;
        self
    }

    /// `GET /v1/tasks` — for messages.
    pub fn describe(&self) -> String {
        format!("{} /v1/{}", self.method, self.path.join("/"))
    }
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    /// `Idempotent-Replayed: true`: a create answered with the task an earlier attempt made.
    pub replayed: bool,
    /// The JSON body; None for 204 and empty bodies.
    pub body: Option<Value>,
}

impl Reply {
    /// The body, or an error naming the request if the server sent none.
    pub fn into_body(self, what: &str) -> Result<Value, Failure> {
        self.body
            .ok_or_else(|| Failure::usage(format!("the server sent no JSON body for {what}")))
    }
}

/// Builds `<endpoint>/v1/<segments>`, keeping a path prefix of the endpoint (a reverse proxy's
/// `/baton/`) and percent-encoding every segment (`/`, `?`, `#`, `%`, spaces, non-ASCII).
pub fn url(base: &Url, segments: &[String]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.push("v1");
        for s in segments {
            path.push(s);
        }
    }
    url
}

/// Parses `--endpoint`; `host:port` means `http://host:port`.
pub fn parse_endpoint(endpoint: &str) -> Result<Url, Failure> {
    let text = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    };
    let url = Url::parse(&text)
        .map_err(|e| Failure::usage(format!("endpoint {endpoint:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Failure::usage(format!(
            "endpoint {endpoint:?} must be an http:// or https:// URL"
        )));
    }
    Ok(url)
}

/// The API client of one command.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl Client {
    pub fn new(endpoint: &str, token: String) -> Result<Client, Failure> {
        let base = parse_endpoint(endpoint)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("baton-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, base, token })
    }

    pub fn endpoint(&self) -> &Url {
        &self.base
    }

    /// Sends a request, retrying as its [`Retry`] allows, and sorts the outcome: a 2xx
    /// [`Reply`], an API problem, or unreachable.
    pub async fn send(&self, req: &Request) -> Result<Reply, Failure> {
        let url = url(&self.base, &req.path);
        let what = req.describe();
        let mut attempt = 1;
        loop {
            let mut builder = self
                .http
                .request(req.method.clone(), url.clone())
                .header(AUTHORIZATION, format!("Bearer {}", self.token))
                .header("Accept", "application/json, application/problem+json");
            if !req.query.is_empty() {
                builder = builder.query(&req.query);
            }
            for (k, v) in &req.headers {
                builder = builder.header(*k, v);
            }
            if let Some(body) = &req.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let last = attempt >= ATTEMPTS;
            let response = match builder.send().await {
                Ok(r) => r,
                Err(e) => {
                    let again = !last && (e.is_connect() || req.retry == Retry::Safe);
                    if again {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(Failure::Unreachable {
                        endpoint: self.base.to_string(),
                        cause: transport_cause(&e),
                    });
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    if !last && req.retry == Retry::Safe {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(Failure::Unreachable {
                        endpoint: self.base.to_string(),
                        cause: format!("the answer broke off: {}", transport_cause(&e)),
                    });
                }
            };
            if !status.is_success() {
                let retryable =
                    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 502..=504);
                if retryable && !last && req.retry == Retry::Safe {
                    let wait = retry_after(&headers).unwrap_or_else(|| backoff(attempt));
                    if wait <= MAX_RETRY_AFTER {
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                }
                return Err(Failure::Api {
                    status,
                    problem: Box::new(problem_of(status, &body, &what)),
                });
            }
            let body = if body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some(serde_json::from_slice::<Value>(&body).map_err(|e| {
                    Failure::usage(format!("the answer to {what} is not JSON: {e}"))
                })?)
            };
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            return Ok(Reply {
                status,
                etag: header("etag"),
                replayed: header("idempotent-replayed").is_some_and(|v| v == "true"),
                body,
            });
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 * 3u64.pow(attempt.saturating_sub(1)))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The innermost cause of a transport error (`Connection refused (os error 111)`), which
/// says more than reqwest's outer `error sending request for url (...)`.
fn transport_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let inner = cause.to_string();
    if e.is_timeout() {
        format!("timed out ({inner})")
    } else {
        inner
    }
}

/// One page of a list: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Page {
    pub items: Vec<Value>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Fetches the first page, and with `all` every following one by passing `next_cursor` back
/// as `cursor`. Returns the items and the cursor of the next page not fetched (None: the
/// list is complete). A server that repeats a cursor or never ends the list is an error.
pub async fn collect_pages(
    all: bool,
    mut fetch: impl AsyncFnMut(Option<String>) -> Result<Page, Failure>,
) -> Result<(Vec<Value>, Option<String>), Failure> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..MAX_PAGES {
        let page = fetch(cursor.clone()).await?;
        items.extend(page.items);
        let next = page.next_cursor.filter(|c| !c.is_empty());
        match next {
            None => return Ok((items, None)),
            Some(next) if !all => return Ok((items, Some(next))),
            Some(next) => {
                if !seen.insert(next.clone()) {
                    return Err(Failure::usage(format!(
                        "the server sent cursor {next:?} twice; stopping"
                    )));
                }
                cursor = Some(next);
            }
        }
    }
    Err(Failure::usage(format!(
        "the list did not end after {MAX_PAGES} pages; stopping"
    )))
}

/// Fetches a list endpoint page by page (see [`collect_pages`]).
pub async fn list(
    client: &Client,
    base: Request,
    all: bool,
) -> Result<(Vec<Value>, Option<String>), Failure> {
    collect_pages(all, async |cursor| {
        let req = base.clone().query("cursor", cursor);
        let what = req.describe();
        let body = client.send(&req).await?.into_body(&what)?;
        serde_json::from_value::<Page>(body)
            .map_err(|e| Failure::usage(format!("the answer to {what} is not a page: {e}")))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_percent_encode_segments_and_keep_a_prefix() {
        let base = parse_endpoint("http://127.0.0.1:8080").unwrap();
        let u = url(&base, &["tasks".into(), "abc".into()]);
        assert_eq!(u.as_str(), "http://127.0.0.1:8080/v1/tasks/abc");
        let u = url(
            &base,
            &[
                "blocks".into(),
                "live.example.com".into(),
                "a b".into(),
                "s/1?x#%".into(),
            ],
        );
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8080/v1/blocks/live.example.com/a%20b/s%2F1%3Fx%23%25"
        );
        let base = parse_endpoint("https://ops.example.com/baton/").unwrap();
        assert_eq!(
            url(&base, &["whoami".into()]).as_str(),
            "https://ops.example.com/baton/v1/whoami"
        );
        let base = parse_endpoint("localhost:9000").unwrap();
        assert_eq!(
            url(&base, &["groups".into()]).as_str(),
            "http://localhost:9000/v1/groups"
        );
        assert!(parse_endpoint("ftp://x").is_err());
        assert!(parse_endpoint("http://").is_err());
    }

    #[test]
    fn problems_are_printed_escaped() {
        let body = json!({
            "code": "invalid",
            "detail": "name \u{1b}[31mred\u{7} is invalid\nfield: forged",
            "field": "na\u{202e}me",
        });
        let p = problem_of(StatusCode::BAD_REQUEST, body.to_string().as_bytes(), "x");
        let f = Failure::Api {
            status: StatusCode::BAD_REQUEST,
            problem: Box::new(p),
        };
        assert_eq!(
            f.render(),
            "error: name \\u{1b}[31mred\\u{7} is invalid\\nfield: forged (invalid)\n\
             field: na\\u{202e}me"
        );
    }

    #[test]
    fn renders_problems() {
        let body = json!({
            "type": "https://baton.dev/problems/wrong_state",
            "title": "Conflict",
            "status": 409,
            "code": "wrong_state",
            "detail": "task tk_1 is stopped; start it first",
            "current_state": "stopped"
        });
        let p = problem_of(StatusCode::CONFLICT, body.to_string().as_bytes(), "x");
        let f = Failure::Api {
            status: StatusCode::CONFLICT,
            problem: Box::new(p),
        };
        assert_eq!(
            f.render(),
            "error: task tk_1 is stopped; start it first (wrong_state)\ncurrent state: stopped"
        );
        assert_eq!(f.exit_code(), 1);
        assert_eq!(f.code(), Some("wrong_state"));

        let body = json!({"type": "about:blank", "title": "Bad Request", "status": 400,
            "code": "invalid_parameter", "detail": "end_time is before start_time",
            "field": "end_time"});
        let f = Failure::Api {
            status: StatusCode::BAD_REQUEST,
            problem: Box::new(problem_of(
                StatusCode::BAD_REQUEST,
                body.to_string().as_bytes(),
                "x",
            )),
        };
        assert_eq!(
            f.render(),
            "error: end_time is before start_time (invalid_parameter)\nfield: end_time"
        );

        let body = json!({"title": "Precondition Failed", "status": 412,
            "code": "precondition_failed", "detail": "the task is at another version",
            "current_etag": "\"v4\""});
        let f = Failure::Api {
            status: StatusCode::PRECONDITION_FAILED,
            problem: Box::new(problem_of(
                StatusCode::PRECONDITION_FAILED,
                body.to_string().as_bytes(),
                "x",
            )),
        };
        assert!(
            f.render().ends_with("\ncurrent etag: \"v4\""),
            "{}",
            f.render()
        );
    }

    #[test]
    fn answers_that_are_not_problems() {
        let p = problem_of(
            StatusCode::NOT_FOUND,
            b"\n<html>Not Found</html>\n",
            "GET /v1/tasks",
        );
        let f = Failure::Api {
            status: StatusCode::NOT_FOUND,
            problem: Box::new(p),
        };
        assert_eq!(
            f.render(),
            "error: HTTP 404 Not Found for GET /v1/tasks: <html>Not Found</html> (http_404)"
        );
        let p = problem_of(StatusCode::BAD_GATEWAY, b"", "GET /v1/whoami");
        assert_eq!(
            p.detail.as_deref(),
            Some("HTTP 502 Bad Gateway for GET /v1/whoami (not a problem document)")
        );
    }

    #[test]
    fn unreachable_is_exit_2() {
        let f = Failure::Unreachable {
            endpoint: "http://127.0.0.1:1/".into(),
            cause: "Connection refused (os error 111)".into(),
        };
        assert_eq!(f.exit_code(), 2);
        assert!(f.render().starts_with(
            "error: cannot reach the Baton API at http://127.0.0.1:1/: Connection refused"
        ));
    }

    fn page(items: &[i64], next: Option<&str>) -> Page {
        Page {
            items: items.iter().map(|i| json!(i)).collect(),
            next_cursor: next.map(str::to_string),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn follows_cursors() {
        let pages = |cursor: Option<String>| match cursor.as_deref() {
            None => Ok(page(&[1, 2], Some("c2"))),
            Some("c2") => Ok(page(&[3, 4], Some("c3"))),
            Some("c3") => Ok(page(&[5], None)),
            Some(other) => panic!("unexpected cursor {other}"),
        };
        let mut asked = Vec::new();
        let (items, rest) = block_on(collect_pages(true, async |c: Option<String>| {
            asked.push(c.clone());
            pages(c)
        }))
        .unwrap();
        assert_eq!(
            items,
            vec![json!(1), json!(2), json!(3), json!(4), json!(5)]
        );
        assert_eq!(rest, None);
        assert_eq!(asked, vec![None, Some("c2".into()), Some("c3".into())]);

        // Without --all: the first page, and the cursor of the rest.
        let (items, rest) = block_on(collect_pages(false, async |c| pages(c))).unwrap();
        assert_eq!(items, vec![json!(1), json!(2)]);
        assert_eq!(rest.as_deref(), Some("c2"));

        // An empty cursor ends the list too.
        let (items, rest) =
            block_on(collect_pages(true, async |_| Ok(page(&[7], Some(""))))).unwrap();
        assert_eq!((items, rest), (vec![json!(7)], None));
    }

    #[test]
    fn cursor_loops_and_errors_stop() {
        let err =
            block_on(collect_pages(true, async |_| Ok(page(&[1], Some("same"))))).unwrap_err();
        assert!(err.render().contains("twice"), "{}", err.render());

        let mut calls = 0;
        let err = block_on(collect_pages(true, async |c: Option<String>| {
            calls += 1;
            match c {
                None => Ok(page(&[1], Some("c2"))),
                Some(_) => Err(Failure::Api {
                    status: StatusCode::BAD_REQUEST,
                    problem: Box::new(Problem {
                        code: Some("invalid_parameter".into()),
                        detail: Some("bad cursor".into()),
                        field: Some("cursor".into()),
                        ..Problem::default()
                    }),
                }),
            }
        }))
        .unwrap_err();
        assert_eq!(calls, 2);
        assert_eq!(err.code(), Some("invalid_parameter"));
    }
}
