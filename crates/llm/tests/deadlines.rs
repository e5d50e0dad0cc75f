//! Retries, backoff, `retry-after`, per-call timeouts and the overall deadline, in real time
//! against the fake server (small values; each test takes at most a few seconds).

mod common;

use common::{anthropic, ask, limits, relaxed, text_of};
use querypad_llm::LlmError;
use querypad_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test]
async fn rate_limited_waits_for_retry_after_then_succeeds() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(fake_llm::rate_limited(1)),
        Step::now(Reply::Text("ok".into())),
    ])
    .await;
    let start = Instant::now();
    let r = anthropic(&fake)
        .chat(&ask("hi"), limits(2_000, 6_000))
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(text_of(&r.content), "ok");
    assert_eq!(r.attempts, 2);
    assert_eq!(fake.request_count(), 2);
    assert!(
        took >= Duration::from_millis(950),
        "retried after {} ms",
        ms(took)
    );
    assert!(took < Duration::from_millis(2_000), "took {} ms", ms(took));
}

#[tokio::test]
async fn overloaded_twice_then_success() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(fake_llm::overloaded()),
        Step::now(fake_llm::overloaded()),
        Step::now(Reply::Text("ok".into())),
    ])
    .await;
    let start = Instant::now();
    let r = anthropic(&fake).chat(&ask("hi"), relaxed()).await.unwrap();
    assert_eq!(r.attempts, 3);
    assert_eq!(fake.request_count(), 3);
    // Backoff 250 ms then 500 ms, with up to 25 % jitter off.
    assert!(
        start.elapsed() >= Duration::from_millis(550),
        "{} ms",
        ms(start.elapsed())
    );
}

#[tokio::test]
async fn server_error_then_success() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(fake_llm::server_error()),
        Step::now(Reply::Text("ok".into())),
    ])
    .await;
    let r = anthropic(&fake).chat(&ask("hi"), relaxed()).await.unwrap();
    assert_eq!(r.attempts, 2);
    assert_eq!(text_of(&r.content), "ok");
}

#[tokio::test]
async fn overloaded_until_the_deadline_reports_overloaded() {
    let fake = FakeLlm::anthropic_with(Arc::new(|_| Step::now(fake_llm::overloaded()))).await;
    let start = Instant::now();
    let err = anthropic(&fake)
        .chat(&ask("hi"), limits(1_000, 2_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Overloaded(m) if m.contains("attempts")),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(fake.request_count() >= 2, "{}", fake.request_count());
    assert!(
        start.elapsed() < Duration::from_millis(2_000),
        "{} ms",
        ms(start.elapsed())
    );
}

/// Decision: a body that stalls is cut by the per-call timeout, and that attempt is retried like
/// any transient failure while the deadline leaves room.
#[tokio::test]
async fn stall_mid_body_times_out_then_the_retry_succeeds() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::StallMidBody),
        Step::now(Reply::Text("ok".into())),
    ])
    .await;
    let start = Instant::now();
    let r = anthropic(&fake)
        .chat(&ask("hi"), limits(500, 5_000))
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(text_of(&r.content), "ok");
    assert_eq!(r.attempts, 2);
    assert_eq!(fake.request_count(), 2);
    assert!(took >= Duration::from_millis(500), "{} ms", ms(took));
    assert!(took < Duration::from_millis(1_500), "{} ms", ms(took));
}

#[tokio::test]
async fn stall_until_the_deadline_is_a_timeout() {
    let fake = FakeLlm::anthropic_with(Arc::new(|_| Step::now(Reply::StallMidBody))).await;
    let start = Instant::now();
    let err = anthropic(&fake)
        .chat(&ask("hi"), limits(5_000, 700))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout(_)), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{} ms",
        ms(start.elapsed())
    );
}

#[tokio::test]
async fn slow_reply_past_the_deadline_times_out_on_time() {
    let fake = FakeLlm::anthropic(vec![Step::after(
        Duration::from_secs(2),
        Reply::Text("late".into()),
    )])
    .await;
    let start = Instant::now();
    let err = anthropic(&fake)
        .chat(&ask("hi"), limits(10_000, 600))
        .await
        .unwrap_err();
    let took = start.elapsed();
    let LlmError::Timeout(reported) = err else {
        panic!("{err:?}")
    };
    assert!(took >= Duration::from_millis(600), "{} ms", ms(took));
    assert!(
        took < Duration::from_millis(800),
        "returned after {} ms",
        ms(took)
    );
    assert!((600..800).contains(&reported), "reported {reported} ms");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_returns_at_once() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(fake_llm::rate_limited(10)),
        Step::now(Reply::Text("never".into())),
    ])
    .await;
    let start = Instant::now();
    let err = anthropic(&fake)
        .chat(&ask("hi"), limits(2_000, 3_000))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::RateLimited(_)), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "{} ms",
        ms(start.elapsed())
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn unparsable_retry_after_falls_back_to_backoff() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::Status {
            status: 429,
            body: serde_json::json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}),
            retry_after: Some("whenever".into()),
        }),
        Step::now(Reply::Text("ok".into())),
    ])
    .await;
    let start = Instant::now();
    let r = anthropic(&fake).chat(&ask("hi"), relaxed()).await.unwrap();
    assert_eq!(r.attempts, 2);
    assert!(
        start.elapsed() < Duration::from_millis(600),
        "{} ms",
        ms(start.elapsed())
    );
}

#[tokio::test]
async fn reset_is_retried() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::Reset),
        Step::now(Reply::Text("ok".into())),
    ])
    .await;
    let r = anthropic(&fake).chat(&ask("hi"), relaxed()).await.unwrap();
    assert_eq!(text_of(&r.content), "ok");
    assert_eq!(r.attempts, 2);
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn reset_every_time_is_a_network_error() {
    let fake = FakeLlm::anthropic_with(Arc::new(|_| Step::now(Reply::Reset))).await;
    let start = Instant::now();
    let err = anthropic(&fake)
        .chat(&ask("hi"), limits(1_000, 1_500))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Network(_)), "{err:?}");
    assert_eq!(err.code(), "llm_unreachable");
    assert!(
        start.elapsed() < Duration::from_millis(1_500),
        "{} ms",
        ms(start.elapsed())
    );
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let provider = querypad_llm::Provider::new(querypad_llm::ProviderConfig {
        kind: querypad_llm::ProviderKind::Anthropic,
        base_url: Some(format!("http://{addr}")),
        api_key: Some("k".into()),
        model: "m".into(),
        tools: true,
    })
    .unwrap();
    let start = Instant::now();
    let err = provider
        .chat(&ask("hi"), limits(1_000, 1_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Network(m) if m.contains("onnect")),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{} ms",
        ms(start.elapsed())
    );
}

#[tokio::test]
async fn a_passed_deadline_sends_nothing() {
    let fake = FakeLlm::anthropic(vec![Step::now(Reply::Text("never".into()))]).await;
    let limits = querypad_llm::CallLimits {
        per_call_timeout: Duration::from_secs(5),
        deadline: Instant::now(),
    };
    let err = anthropic(&fake).chat(&ask("hi"), limits).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout(_)), "{err:?}");
    assert_eq!(fake.request_count(), 0);
}
