//! What every playlist item is read through: a URL, local path or in-memory name opened as
//! a [`MediaFile`] (HTTP through the account's egress), and why an item cannot be played.

use baton_net::egress::Egress;
use baton_net::fetch::{FetchError, HttpFile, LocalFile, MediaFile};

use super::PlayerConfig;

/// Why an item cannot be played.
#[derive(Debug, thiserror::Error)]
pub(super) enum ItemError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Format(String),
}

/// Opens `url`: `mem:NAME` from [`PlayerConfig::memory`], an http(s) URL through `egress`,
/// anything else as a local path (`file://` stripped).
pub(super) async fn open_file(
    egress: &Egress,
    url: &str,
    config: &PlayerConfig,
) -> Result<MediaFile, FetchError> {
    let lower = url.to_ascii_lowercase();
    if let Some(name) = url.strip_prefix("mem:") {
        return match config.memory.get(name) {
            Some(bytes) => Ok(MediaFile::Memory(bytes.clone())),
            None => Err(FetchError::Status(404)),
        };
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let file = HttpFile::open(egress.clone(), url, config.http.clone()).await?;
        Ok(MediaFile::Http(file))
    } else {
        let path = url.strip_prefix("file://").unwrap_or(url);
        Ok(MediaFile::Local(LocalFile::open(path).await?))
    }
}
