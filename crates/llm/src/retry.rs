//! One JSON POST, retried while the deadline allows.
//!
//! Why here and not in reqwest: the call must never outlive [`CallLimits::deadline`], a stall in
//! the middle of a body must count as a timeout (reqwest's own timeout is per client, not per
//! call), and a retry is only worth starting when the wait plus a useful attempt still fits.

use crate::http_error;
use crate::{CallLimits, LlmError};
use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// First backoff; doubled per attempt.
const BASE_BACKOFF: Duration = Duration::from_millis(250);
/// Longest backoff between attempts (a `retry-after` may ask for more).
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The least time worth giving an attempt (capped by the per-call timeout).
const MIN_USEFUL_ATTEMPT: Duration = Duration::from_secs(1);
/// A safety cap: time is the real bound, this only stops hammering a broken server.
const MAX_ATTEMPTS: u32 = 10;
/// Largest reply body read; chat replies are kilobytes.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// One prepared request: everything needed to send it again.
pub(crate) struct HttpCall<'a> {
    /// `anthropic` or `openai`, for logs.
    pub provider: &'static str,
    /// The shared client (connection pool).
    pub client: &'a reqwest::Client,
    /// Endpoint.
    pub url: &'a reqwest::Url,
    /// Headers (auth included; never logged).
    pub headers: &'a HeaderMap,
    /// JSON body, serialized once.
    pub body: &'a [u8],
    /// The API key, scrubbed from error texts.
    pub secret: Option<&'a str>,
}

/// A 2xx reply.
#[derive(Debug)]
pub(crate) struct Success {
    /// Reply body.
    pub body: Vec<u8>,
    /// Attempts made, this one included.
    pub attempts: u32,
}

/// Sends `call` until a 2xx reply, a non-retryable failure, or no time left.
pub(crate) async fn send(call: &HttpCall<'_>, limits: CallLimits) -> Result<Success, LlmError> {
    let start = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let left = limits.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LlmError::Timeout(millis(start.elapsed())));
        }
        let budget = limits.per_call_timeout.min(left);
        let attempt_start = Instant::now();
        let outcome = tokio::time::timeout(budget, exchange(call)).await;
        let elapsed_ms = millis(attempt_start.elapsed());
        let (error, retry_after) = match outcome {
            Err(_) => {
                tracing::debug!(
                    provider = call.provider,
                    attempt,
                    elapsed_ms,
                    "LLM HTTP attempt timed out"
                );
                (LlmError::Timeout(millis(start.elapsed())), None)
            }
            Ok(Err(ExchangeError::TooLarge)) => {
                return Err(LlmError::Malformed(format!(
                    "reply larger than {MAX_BODY_BYTES} bytes"
                )));
            }
            Ok(Err(ExchangeError::Http(e))) if e.is_builder() => {
                return Err(LlmError::Config(http_error::redact(
                    &describe(&e),
                    call.secret,
                )));
            }
            Ok(Err(ExchangeError::Http(e))) => {
                tracing::debug!(provider = call.provider, attempt, elapsed_ms, error = %e, "LLM HTTP attempt failed");
                (
                    LlmError::Network(http_error::redact(&describe(&e), call.secret)),
                    None,
                )
            }
            Ok(Ok(reply)) => {
                tracing::debug!(
                    provider = call.provider,
                    attempt,
                    elapsed_ms,
                    status = reply.status,
                    "LLM HTTP attempt answered"
                );
                if (200..300).contains(&reply.status) {
                    return Ok(Success {
                        body: reply.body,
                        attempts: attempt,
                    });
                }
                let failure = http_error::classify(reply.status, &reply.body, call.secret);
                if !failure.retryable {
                    return Err(with_attempts(failure.error, attempt));
                }
                (
                    failure.error,
                    retry_after(&reply.headers, SystemTime::now()),
                )
            }
        };
        if attempt >= MAX_ATTEMPTS {
            return Err(with_attempts(error, attempt));
        }
        let wait = retry_after.unwrap_or_else(|| backoff(attempt));
        let useful = MIN_USEFUL_ATTEMPT.min(limits.per_call_timeout);
        if Instant::now() + wait + useful > limits.deadline {
            tracing::debug!(
                provider = call.provider,
                attempt,
                wait_ms = millis(wait),
                "no time left to retry"
            );
            return Err(with_attempts(error, attempt));
        }
        tokio::time::sleep(wait).await;
    }
}

/// A reply read to its end.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

enum ExchangeError {
    Http(reqwest::Error),
    TooLarge,
}

/// Sends once and reads the whole body (so the caller's timeout covers both).
async fn exchange(call: &HttpCall<'_>) -> Result<Reply, ExchangeError> {
    let mut response = call
        .client
        .post(call.url.clone())
        .headers(call.headers.clone())
        .body(call.body.to_vec())
        .send()
        .await
        .map_err(ExchangeError::Http)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ExchangeError::Http)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ExchangeError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The error with its causes, which is where "connection refused" or "reset" is said.
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// Adds "after N attempts" to the message when there were retries.
fn with_attempts(error: LlmError, attempts: u32) -> LlmError {
    if attempts <= 1 {
        return error;
    }
    let note = |m: String| format!("{m} (after {attempts} attempts)");
    match error {
        LlmError::Auth(m) => LlmError::Auth(note(m)),
        LlmError::RateLimited(m) => LlmError::RateLimited(note(m)),
        LlmError::Overloaded(m) => LlmError::Overloaded(note(m)),
        LlmError::Server(m) => LlmError::Server(note(m)),
        LlmError::BadRequest(m) => LlmError::BadRequest(note(m)),
        LlmError::Network(m) => LlmError::Network(note(m)),
        other => other,
    }
}

/// Exponential backoff for the wait after attempt `attempt` (1-based), with a little jitter
/// (75–100 %) so that many clients do not retry in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let exp = BASE_BACKOFF.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(MAX_BACKOFF);
    let jitter = 0.75 + 0.25 * random_unit();
    capped.mul_f64(jitter)
}

/// A number in [0, 1) without a random-number dependency (hash keys are randomly seeded).
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x9e37_79b9_7f4a_7c15);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait a server asked for: `retry-after-ms` (OpenAI), else `retry-after` in seconds or as
/// an HTTP date. Anything unparsable counts as absent.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000);
    }
    let value = header("retry-after")?;
    if let Some(d) = parse_seconds(value) {
        return Some(d);
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A non-negative decimal number of seconds.
fn parse_seconds(value: &str) -> Option<Duration> {
    let secs: f64 = value.parse().ok()?;
    if !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only format RFC 9110 requires.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u32 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u32
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + (*h * 3600 + *m * 60 + *s) as i64;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_ms_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                now
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
        // A date in the past means "now".
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sat, 05 Nov 1994 08:49:37 GMT")]),
                now
            ),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn http_date_epoch() {
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_835_438_400))
        );
        assert_eq!(parse_http_date("Tue, 29 Feb 2028 12:00:00 PST"), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert!(
            backoff(1) <= Duration::from_millis(250) && backoff(1) >= Duration::from_millis(187)
        );
        assert!(
            backoff(3) <= Duration::from_millis(1000) && backoff(3) >= Duration::from_millis(750)
        );
        assert!(backoff(30) <= MAX_BACKOFF);
    }
}
