//! The HTTP client and endpoint URL shared by both providers.

use crate::LlmError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

/// Builds the pooled client, once per [`crate::Provider`]. No overall timeout: every call sets
/// its own from [`crate::CallLimits`].
pub(crate) fn client() -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_keepalive(Duration::from_secs(30))
        .tcp_nodelay(true)
        .user_agent(concat!("querypad/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))
}

/// `base` (or `default`) joined with `path`; only http and https are accepted.
pub(crate) fn endpoint(
    base: Option<&str>,
    default: &str,
    path: &str,
) -> Result<reqwest::Url, LlmError> {
    let base = base
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(default);
    let joined = format!("{}{}", base.trim_end_matches('/'), path);
    let url = reqwest::Url::parse(&joined)
        .map_err(|e| LlmError::Config(format!("invalid base URL {base:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(LlmError::Config(format!(
            "base URL {base:?} must be http(s)://host[:port]"
        )));
    }
    Ok(url)
}

/// A header holding a secret: marked sensitive so it never shows in debug output.
pub(crate) fn secret_header(
    headers: &mut HeaderMap,
    name: &'static str,
    value: &str,
) -> Result<(), LlmError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        LlmError::Config(format!("the API key cannot be sent as the {name} header"))
    })?;
    value.set_sensitive(true);
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}

/// Headers every JSON call sends.
pub(crate) fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let u = endpoint(None, "https://api.anthropic.com", "/v1/messages").unwrap();
        assert_eq!(u.as_str(), "https://api.anthropic.com/v1/messages");
        let u = endpoint(Some("http://127.0.0.1:9/v1/"), "x", "/chat/completions").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:9/v1/chat/completions");
        assert!(matches!(
            endpoint(Some("ftp://x"), "x", "/a"),
            Err(LlmError::Config(_))
        ));
        assert!(matches!(
            endpoint(Some("not a url"), "x", "/a"),
            Err(LlmError::Config(_))
        ));
    }
}
