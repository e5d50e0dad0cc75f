//! Turning a non-2xx reply into a typed [`LlmError`] and a retry decision.
//!
//! Both wire protocols put errors in a similar envelope (`{"error":{"type","message"}}` for
//! Anthropic, `{"error":{"message","type","code"}}` for OpenAI; compatible servers vary), so one
//! lenient reader serves both. The status code decides the error kind; the body only adds words.

use crate::LlmError;

/// Longest provider message kept in an error (a proxy's HTML page is not worth more).
const MAX_MESSAGE_CHARS: usize = 400;

/// A classified failed reply.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What to report.
    pub error: LlmError,
    /// Whether another attempt may succeed (429, 529, 5xx).
    pub retryable: bool,
}

/// Classifies a non-success `status` with its `body`; `secret` (the API key) is scrubbed from
/// the text in case a server echoes it.
pub(crate) fn classify(status: u16, body: &[u8], secret: Option<&str>) -> Failure {
    let detail = ErrorDetail::read(body);
    let text = redact(&detail.describe(status), secret);
    match status {
        401 | 403 => Failure {
            error: LlmError::Auth(text),
            retryable: false,
        },
        429 => Failure {
            // A spend cap is a 429 too, but waiting seconds will not lift it.
            retryable: !detail.spend_limit,
            error: LlmError::RateLimited(text),
        },
        529 => Failure {
            error: LlmError::Overloaded(text),
            retryable: true,
        },
        500..=599 if detail.kind.as_deref() == Some("overloaded_error") => Failure {
            error: LlmError::Overloaded(text),
            retryable: true,
        },
        500..=599 => Failure {
            error: LlmError::Server(text),
            retryable: true,
        },
        _ => Failure {
            error: LlmError::BadRequest(text),
            retryable: false,
        },
    }
}

/// Removes every occurrence of `secret` from `text`.
pub(crate) fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() && text.contains(s) => text.replace(s, "***"),
        _ => text.to_string(),
    }
}

/// What an error body says, read as leniently as possible.
#[derive(Debug, Default)]
struct ErrorDetail {
    kind: Option<String>,
    message: String,
    spend_limit: bool,
}

impl ErrorDetail {
    fn read(body: &[u8]) -> ErrorDetail {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return ErrorDetail {
                message: plain_text(body),
                ..ErrorDetail::default()
            };
        };
        let error = value.get("error");
        let str_at = |v: Option<&serde_json::Value>, key: &str| {
            v.and_then(|v| v.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let kind = str_at(error, "type").or_else(|| str_at(error, "code"));
        let message = str_at(error, "message")
            .or_else(|| error.and_then(|e| e.as_str()).map(str::to_string))
            .or_else(|| str_at(Some(&value), "message"))
            .or_else(|| str_at(Some(&value), "detail"))
            .unwrap_or_else(|| plain_text(body));
        let spend_limit = error
            .and_then(|e| e.get("details"))
            .and_then(|d| d.get("error_code"))
            .and_then(|c| c.as_str())
            == Some("enforced_spend_limit_reached");
        ErrorDetail {
            kind,
            message: truncate(&message),
            spend_limit,
        }
    }

    fn describe(&self, status: u16) -> String {
        match &self.kind {
            Some(kind) => format!("HTTP {status} {kind}: {}", self.message),
            None => format!("HTTP {status}: {}", self.message),
        }
    }
}

fn plain_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        truncate(text)
    }
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_overloaded_is_retryable() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let f = classify(529, body, None);
        assert!(f.retryable);
        assert_eq!(
            f.error,
            LlmError::Overloaded("HTTP 529 overloaded_error: Overloaded".into())
        );
    }

    #[test]
    fn client_errors_are_not_retried() {
        for status in [400, 401, 403, 404, 413] {
            assert!(!classify(status, b"{}", None).retryable, "{status}");
        }
        assert!(matches!(classify(401, b"", None).error, LlmError::Auth(_)));
        assert!(matches!(
            classify(413, b"", None).error,
            LlmError::BadRequest(_)
        ));
    }

    #[test]
    fn openai_error_and_plain_bodies() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let f = classify(429, body, None);
        assert!(f.retryable);
        assert_eq!(
            f.error,
            LlmError::RateLimited("HTTP 429 requests: Rate limit reached".into())
        );
        let f = classify(502, b"<html>bad gateway</html>", None);
        assert_eq!(
            f.error,
            LlmError::Server("HTTP 502: <html>bad gateway</html>".into())
        );
        assert!(f.retryable);
    }

    #[test]
    fn spend_limit_is_not_retried() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"cap","details":{"error_code":"enforced_spend_limit_reached"}}}"#;
        assert!(!classify(429, body, None).retryable);
    }

    #[test]
    fn the_key_never_reaches_the_message() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-secret-123"}}"#;
        let f = classify(401, body, Some("sk-secret-123"));
        assert!(!f.error.to_string().contains("sk-secret-123"));
    }
}
