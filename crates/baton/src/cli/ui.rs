//! `baton ui`: prints the link that opens the web dashboard signed in —
//! `<endpoint>/ui/#token=<token>`. The token rides in the URL's fragment, which browsers never
//! send to a server (nor in a Referer); the page moves it into the tab's session storage and
//! out of the address bar at once.
//!
//! The endpoint resolves as for every API command (`--endpoint`, `BATON_ENDPOINT`, the CLI
//! config file, `http://127.0.0.1:8080`); so does the token (`--token`, `BATON_TOKEN`, the
//! file). Without a token, or with `--new-token`, a new one is created in the data dir as
//! `baton token create` does. Then the link is tried (`GET /v1/whoami`): a token the server
//! refuses is an error that says why, not a link that fails in the browser.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use reqwest::{StatusCode, Url};

use super::client::{Client, Failure, Request, parse_endpoint};
use super::config::{ConfigPath, resolve};
use crate::admin::DataDirArgs;
use crate::credentials::{ROOT_ACCOUNT, random_string};

/// How long a new token may take to be accepted: a running server re-reads its credentials
/// file within a second.
const NEW_TOKEN_GRACE: Duration = Duration::from_secs(3);

#[derive(Args, Debug)]
pub struct UiArgs {
    /// The Baton API [env: BATON_ENDPOINT; config file: endpoint; default:
    /// http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Sign in with this token [env: BATON_TOKEN; config file: token]. Without one, a new
    /// token is created in the data dir.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Create a new token (in the data dir) even when one is configured.
    #[arg(long, conflicts_with = "token")]
    pub new_token: bool,
    /// The account a new token acts for.
    #[arg(long, default_value = ROOT_ACCOUNT)]
    pub account: String,
    #[command(flatten)]
    pub dir: DataDirArgs,
}

pub async fn run(args: UiArgs) -> anyhow::Result<ExitCode> {
    let env = |k: &str| std::env::var(k).ok();
    let path = ConfigPath::locate(&env);
    let file = match &path {
        Some(p) => Some((p, p.load()?)),
        None => None,
    };
    let r = resolve(args.endpoint.as_deref(), args.token.as_deref(), &env, file);
    let base = parse_endpoint(&r.endpoint).map_err(|f| anyhow::anyhow!(f.render()))?;
    let (token, created) = match r.token.filter(|_| !args.new_token) {
        Some(token) => (token, None),
        None => {
            let name = format!("ui-{}", random_string(8));
            let target = args.dir.open()?;
            let issued = target
                .file
                .create_token(&target.fixed, &args.account, Some(name))?;
            eprintln!("{}", target.written());
            eprintln!(
                "created token {} for account {} (revoke it with `baton token revoke {}`)",
                issued.name, issued.account, issued.name
            );
            (issued.token, Some((issued.name, target.dir)))
        }
    };
    let link = link(&base, &token);
    match try_token(&base, &token, created.is_some()).await {
        Ok(account) => {
            eprintln!("the dashboard at {base} signs in as account {account} with this link:");
        }
        Err(Failure::Unreachable { cause, .. }) => {
            eprintln!(
                "warning: no Baton API answers at {base} ({cause}); the link works once \
                 `baton serve` runs there{}",
                if created.is_some() {
                    " with this data dir"
                } else {
                    ""
                }
            );
        }
        Err(Failure::Api { status, problem }) if status == StatusCode::UNAUTHORIZED => {
            let why = problem.detail.unwrap_or_default();
            let hint = match &created {
                Some((name, dir)) => format!(
                    "token {name} was written to the data dir {}, which that server does not \
                     seem to use: run `baton ui` with its --data-dir (or BATON_DATA_DIR, or \
                     --config), and revoke {name} there with `baton token revoke {name}`",
                    dir.display()
                ),
                None => "the configured token (--token, BATON_TOKEN or the CLI config file) \
                         is not one of this server's; `baton ui --new-token` creates one"
                    .to_string(),
            };
            anyhow::bail!("the server at {base} refuses the token ({why}): {hint}");
        }
        Err(e) => anyhow::bail!("{}", e.render().trim_start_matches("error: ")),
    }
    println!("{link}");
    Ok(ExitCode::SUCCESS)
}

/// `<endpoint>/ui/#token=<token>`, keeping a path prefix of the endpoint (a reverse proxy's
/// `/baton/`); the token percent-encoded (it may be any text when it comes from a config).
pub fn link(base: &Url, token: &str) -> String {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.push("ui");
        path.push("");
    }
    let mut fragment = String::from("token=");
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            fragment.push(char::from(b));
        } else {
            fragment.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{url}#{fragment}")
}

/// The account the server says the token acts for; for a token created just now, 401s are
/// retried for [`NEW_TOKEN_GRACE`] (the server has not re-read its credentials yet).
async fn try_token(base: &Url, token: &str, new: bool) -> Result<String, Failure> {
    let client = Client::new(base.as_str(), token.to_string())?;
    let request = Request::get(&["whoami"]);
    let deadline = tokio::time::Instant::now() + NEW_TOKEN_GRACE;
    loop {
        match client.send(&request).await {
            Ok(reply) => {
                let body = reply.into_body(&request.describe())?;
                return Ok(body["account"].as_str().unwrap_or("?").to_string());
            }
            Err(Failure::Api { status, .. })
                if status == StatusCode::UNAUTHORIZED
                    && new
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_opens_the_dashboard_of_the_endpoint_with_the_token_in_the_fragment() {
        let base = parse_endpoint("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            link(&base, "btn_abc123"),
            "http://127.0.0.1:8080/ui/#token=btn_abc123"
        );
        // A reverse proxy's prefix stays; a query of the endpoint does not.
        let base = parse_endpoint("https://ops.example.com/baton/?x=1").unwrap();
        assert_eq!(
            link(&base, "t"),
            "https://ops.example.com/baton/ui/#token=t"
        );
        let base = parse_endpoint("localhost:9000").unwrap();
        assert_eq!(
            link(&base, "a b#c%d/é"),
            "http://localhost:9000/ui/#token=a%20b%23c%25d%2F%C3%A9"
        );
    }
}
