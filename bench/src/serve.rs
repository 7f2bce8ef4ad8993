//! `baton serve` as a benchmark's system under test: started from a config file the caller
//! writes, on free loopback ports, its stderr in the run dir; killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::http::Http;
use crate::sut::free_port;

/// A running `baton serve`.
#[derive(Debug)]
pub struct BatonServe {
    child: Child,
    argv: Vec<String>,
    run_dir: PathBuf,
    pub api: SocketAddr,
    pub rtmp: SocketAddr,
}

impl BatonServe {
    /// Writes `config` (TOML: `data_dir` is set here, in `run_dir/data`) to
    /// `run_dir/baton.toml` and starts `baton` on it with loopback listeners on free ports.
    pub fn start(baton: &Path, run_dir: &Path, config: &str) -> Result<BatonServe> {
        let config = format!("data_dir = {:?}\n{config}", run_dir.join("data"));
        let config_path = run_dir.join("baton.toml");
        std::fs::write(&config_path, config).context("writing the server's config")?;
        let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let (api, rtmp, play) = (
            loopback(free_port()?),
            loopback(free_port()?),
            loopback(free_port()?),
        );
        let argv = vec![
            baton.display().to_string(),
            "serve".into(),
            "--config".into(),
            config_path.display().to_string(),
            "--api-listen".into(),
            api.to_string(),
            "--rtmp-listen".into(),
            rtmp.to_string(),
            "--play-listen".into(),
            play.to_string(),
        ];
        let child = spawn(&argv, run_dir, "baton")?;
        Ok(BatonServe {
            child,
            argv,
            run_dir: run_dir.to_path_buf(),
            api,
            rtmp,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Waits until `/healthz` answers 200 (the API listens once the engine and the replay
    /// protection are loaded); how long that took.
    pub async fn wait_ready(&mut self, limit: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "baton serve exited ({status}); see {}",
                    self.run_dir.display()
                );
            }
            if let Ok(mut conn) = Http::connect(self.api).await {
                let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", self.api);
                if matches!(conn.exchange(request).await, Ok((200, _))) {
                    return Ok(start.elapsed());
                }
            }
            if start.elapsed() > limit {
                bail!(
                    "baton serve not ready after {limit:?}; see {}",
                    self.run_dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, then the same command again on the same data (its stderr in
    /// `baton-restart.log`); how long until it is ready.
    pub async fn restart(&mut self, limit: Duration) -> Result<Duration> {
        self.stop();
        self.child = spawn(&self.argv, &self.run_dir, "baton-restart")?;
        self.wait_ready(limit).await
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BatonServe {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(argv: &[String], dir: &Path, log: &str) -> Result<Child> {
    let err = std::fs::File::create(dir.join(format!("{log}.log")))?;
    Command::new(&argv[0])
        .args(&argv[1..])
        .env("BATON_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", argv[0]))
}
