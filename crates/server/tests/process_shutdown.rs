//! The real binary, stopped as systemd stops it: SIGTERM while an agent run is in flight. The
//! listener closes, `/readyz` stops answering 200, the run finishes (or, past the drain
//! timeout, is cancelled and answers degraded/failed), its SSE stream gets `finished`, the
//! process exits 0, and after a restart on the same data directory the run and its cell are
//! there. Also: the sd_notify protocol (READY=1, WATCHDOG=1, STOPPING=1) on a socket of our own,
//! ended by SIGINT.

mod common;

use common::{Proc, ProcOptions, Sandbox, SseReader, bounded, fetch, http_client};
use querypad_testkit::fake_llm::{FakeLlm, Reply, Step};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SQL: &str = "SELECT Name FROM Genre ORDER BY Name LIMIT 3";

/// A fake Anthropic answering every call with `SQL` after `delay`.
async fn slow_llm(delay: Duration) -> FakeLlm {
    FakeLlm::anthropic_with(std::sync::Arc::new(move |_| {
        Step::after(
            delay,
            Reply::ToolUse {
                name: "submit_sql".into(),
                input: json!({"sql": SQL, "explanation": "three genres"}),
                text: None,
            },
        )
    }))
    .await
}

/// Sends `GET /readyz` on an open keep-alive connection; `Some(status)` or `None` if the server
/// closed the connection instead of answering.
async fn readyz_on(conn: &mut tokio::net::TcpStream) -> Option<u16> {
    let req = b"GET /readyz HTTP/1.1\r\nHost: querypad\r\nConnection: keep-alive\r\n\r\n";
    if conn.write_all(req).await.is_err() {
        return None;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            _ => return None,
        };
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let head = &text[..head_end];
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + len {
                return head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            }
        }
    }
}

/// Waits until connecting to `addr` is refused (the listener is closed), at most `within`.
async fn refused_within(addr: std::net::SocketAddr, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return true,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    false
}

async fn start_run(client: &reqwest::Client, p: &Proc, question: &str) -> String {
    let r = fetch(
        client
            .post(p.url("/api/v1/agent/runs"))
            .json(&json!({"query": question, "connection_id": 1, "notebook_id": 1})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["run_id"].as_str().expect("run id").to_string()
}

async fn open_events(client: &reqwest::Client, p: &Proc, run_id: &str) -> SseReader {
    let resp = client
        .get(p.url(&format!("/api/v1/agent/runs/{run_id}/events")))
        .send()
        .await
        .expect("events");
    assert_eq!(resp.status(), 200);
    SseReader::new(resp)
}

/// Reads events until `finished` (returned) or the end of the stream (panics).
async fn until_finished(sse: &mut SseReader) -> common::Sse {
    while let Some(e) = sse.next().await {
        if e.event == "finished" {
            return e;
        }
    }
    panic!("the SSE stream ended without a `finished` event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_run_finish_then_exits_zero_and_loses_nothing() {
    let sandbox = Sandbox::new("sigterm-drain");
    let fake = slow_llm(Duration::from_secs(2)).await;
    let mut opts = ProcOptions::with_fake_llm(&fake.base_url);
    opts.args(&["--drain-timeout", "10"]);
    let mut p = Proc::start(&sandbox, &opts);
    let client = http_client();
    bounded(60, async {
        // A kept-alive connection opened before the signal.
        let mut kept = tokio::net::TcpStream::connect(p.addr)
            .await
            .expect("connect");
        assert_eq!(readyz_on(&mut kept).await, Some(200));

        let run_id = start_run(&client, &p, "three genres").await;
        let mut sse = open_events(&client, &p, &run_id).await;
        let first = sse.next().await.expect("a first event");
        assert_ne!(
            first.event, "finished",
            "the run must still be in flight: {first:?}"
        );

        let t0 = Instant::now();
        p.sigterm();
        // No new connections; the open one gets 503 or is closed, never 200.
        assert!(
            refused_within(p.addr, Duration::from_secs(3)).await,
            "the listener still accepts after SIGTERM"
        );
        assert!(p.running(), "the process must still be draining the run");
        let ready = readyz_on(&mut kept).await;
        assert!(
            matches!(ready, None | Some(503)),
            "/readyz after SIGTERM answered {ready:?}"
        );

        let fin = until_finished(&mut sse).await;
        assert_eq!(fin.data["status"], "succeeded", "{:?}", fin.data);
        assert!(
            sse.next().await.is_none(),
            "the stream ends after `finished`"
        );
        let cell_id = fin.data["result"]["cell_id"]
            .as_i64()
            .expect("the answer became a cell");

        let status = p
            .wait_exit(Duration::from_secs(10 + 5))
            .expect("exited within drain + 5 s");
        assert_eq!(status.code(), Some(0), "{status}");
        assert!(
            t0.elapsed() < Duration::from_secs(9),
            "the drain ends when the run does, not at the timeout: {:?}",
            t0.elapsed()
        );
        let logs = p.logs();
        assert!(logs.contains("shutting down"), "{logs}");
        assert!(logs.contains("stopped"), "{logs}");

        // Restart on the same data directory: the run and its cell were kept.
        let p2 = Proc::start(&sandbox, &opts);
        let run = fetch(client.get(p2.url(&format!("/api/v1/agent/runs/{run_id}")))).await;
        assert_eq!(run.status, 200, "{}", run.text);
        assert_eq!(run.body["status"], "succeeded", "{}", run.text);
        assert_eq!(run.body["cell_id"], cell_id);
        let cells = fetch(client.get(p2.url("/api/v1/notebooks/1/cells"))).await;
        let cell = cells
            .body
            .as_array()
            .expect("cells")
            .iter()
            .find(|c| c["id"] == cell_id)
            .cloned();
        let cell = cell.unwrap_or_else(|| panic!("cell {cell_id} lost: {}", cells.text));
        assert!(
            cell["source"].as_str().unwrap_or_default().ends_with(SQL),
            "{cell}"
        );
        // The stored events replay, ending with `finished`.
        let mut replay = open_events(&client, &p2, &run_id).await;
        let mut last = None;
        while let Some(e) = replay.next().await {
            last = Some(e.event);
        }
        assert_eq!(last.as_deref(), Some("finished"));
        p2.sigterm();
        let mut p2 = p2;
        assert_eq!(
            p2.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_outliving_the_drain_timeout_is_cancelled_and_says_so() {
    let sandbox = Sandbox::new("sigterm-cancel");
    let fake = slow_llm(Duration::from_secs(30)).await;
    let mut opts = ProcOptions::with_fake_llm(&fake.base_url);
    opts.args(&["--drain-timeout", "1"]);
    let mut p = Proc::start(&sandbox, &opts);
    let client = http_client();
    bounded(60, async {
        let run_id = start_run(&client, &p, "three genres, slowly").await;
        let mut sse = open_events(&client, &p, &run_id).await;
        sse.next().await.expect("a first event");

        let t0 = Instant::now();
        p.sigterm();
        let fin = until_finished(&mut sse).await;
        let status = fin.data["status"].as_str().unwrap_or_default().to_string();
        assert!(status == "degraded" || status == "failed", "{:?}", fin.data);
        assert!(
            !fin.data["message"].as_str().unwrap_or_default().is_empty(),
            "a cancelled run says why: {:?}",
            fin.data
        );
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "cancelled soon after the 1 s drain: {:?}",
            t0.elapsed()
        );

        let exit = p
            .wait_exit(Duration::from_secs(1 + 12))
            .expect("exited within drain + cleanup");
        assert_eq!(exit.code(), Some(0), "{exit}");

        let p2 = Proc::start(&sandbox, &opts);
        let run = fetch(client.get(p2.url(&format!("/api/v1/agent/runs/{run_id}")))).await;
        assert_eq!(run.status, 200, "{}", run.text);
        assert_eq!(
            run.body["status"],
            status.as_str(),
            "the stored run says what the stream said: {}",
            run.text
        );
        p2.sigterm();
        let mut p2 = p2;
        assert_eq!(
            p2.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sd_notify_ready_watchdog_and_stopping_reach_the_notify_socket() {
    let sandbox = Sandbox::new("sd-notify");
    let sock_path = sandbox.root().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut opts = ProcOptions::default();
    // WatchdogSec=0.4s: the server must ping every 0.2 s.
    opts.env("NOTIFY_SOCKET", sock_path.to_str().expect("utf-8 path"))
        .env("WATCHDOG_USEC", "400000");
    let mut p = Proc::start(&sandbox, &opts);
    let client = http_client();

    let recv_until = |want: &str, within: Duration| -> Vec<String> {
        let until = Instant::now() + within;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            if let Ok(n) = sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = msg.lines().any(|l| l == want);
                seen.push(msg);
                if done {
                    return seen;
                }
            }
        }
        panic!("no {want} within {within:?}; got {seen:?}");
    };

    let first = recv_until("READY=1", Duration::from_secs(10));
    assert!(first.iter().all(|m| !m.contains("STOPPING")), "{first:?}");
    // READY means serving.
    let ready = bounded(10, fetch(client.get(p.url("/readyz")))).await;
    assert_eq!(ready.status, 200, "{}", ready.text);

    let t = Instant::now();
    let mut pings = 0;
    while pings < 4 {
        recv_until("WATCHDOG=1", Duration::from_secs(2));
        pings += 1;
    }
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "4 pings at 0.2 s intervals took {:?}",
        t.elapsed()
    );

    // Ctrl-C in a terminal (SIGINT) stops it the same way as SIGTERM.
    p.signal("INT");
    recv_until("STOPPING=1", Duration::from_secs(5));
    let status = p.wait_exit(Duration::from_secs(15)).expect("exits");
    assert_eq!(status.code(), Some(0), "{status}");
}
