//! Real nginx (the Debian package) in front of the real binary, configured with the shipped
//! site `deploy/nginx/querypad.conf` (only its upstream address, listen address and access log
//! path substituted): agent events stream through it as they happen and to the end, JSON
//! requests pass with their request id, and oversized bodies stop at nginx.
//!
//! Skips (saying so) when `/usr/sbin/nginx` is absent; `scripts/ci-deploy-checks.sh` installs it.

mod common;

use common::{Proc, ProcOptions, Sandbox, SseReader, bounded, fetch, free_port, http_client};
use querypad_testkit::fake_llm::{FakeLlm, Reply, Step};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NGINX: &str = "/usr/sbin/nginx";
const LLM_DELAY: Duration = Duration::from_millis(1500);

/// nginx in the foreground as one process (`master_process off`), so that killing the child
/// stops it entirely; killed on drop. Its `http` block compresses event streams and JSON, as a
/// server-wide `gzip_types` often does: the shipped SSE locations must switch that off.
struct Nginx {
    child: std::process::Child,
    prefix: PathBuf,
    port: u16,
}

impl Nginx {
    /// Writes the wrapper configuration around a copy of the shipped site and starts nginx.
    fn start(prefix: &Path, upstream: std::net::SocketAddr) -> Nginx {
        std::fs::create_dir_all(prefix.join("logs")).expect("nginx dirs");
        std::fs::create_dir_all(prefix.join("tmp")).expect("nginx dirs");
        let port = free_port();
        let shipped = std::fs::read_to_string(common::repo_file("deploy/nginx/querypad.conf"))
            .expect("read deploy/nginx/querypad.conf");
        let access_log = prefix.join("logs/querypad.access.log");
        let site = substitute(
            &shipped,
            &[
                ("server 127.0.0.1:8000;", format!("server {upstream};")),
                (
                    "    listen 80;\n",
                    format!("    listen 127.0.0.1:{port};\n"),
                ),
                ("    listen [::]:80;\n", String::new()),
                (
                    "/var/log/nginx/querypad.access.log",
                    access_log.display().to_string(),
                ),
            ],
        );
        std::fs::write(prefix.join("querypad.conf"), site).expect("write site");
        let p = prefix.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {p}/logs/access.log;\n  gzip on;\n  gzip_min_length 1;\n  gzip_types text/event-stream application/json;\n  client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n  \
             fastcgi_temp_path {p}/tmp/fastcgi;\n  uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n  \
             include {p}/querypad.conf;\n}}\n"
        );
        std::fs::write(prefix.join("nginx.conf"), conf).expect("write nginx.conf");
        let child = std::process::Command::new(NGINX)
            .arg("-p")
            .arg(prefix)
            .arg("-e")
            .arg(prefix.join("logs/error.log"))
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(prefix.join("logs/stdout.log")).expect("stdout"))
            .stderr(std::fs::File::create(prefix.join("logs/stderr.log")).expect("stderr"))
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx {
            child,
            prefix: prefix.to_path_buf(),
            port,
        };
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited with {status}: {}", nginx.error_log());
            }
            assert!(
                Instant::now() < until,
                "nginx did not listen within 10 s: {}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn error_log(&self) -> String {
        let mut s = std::fs::read_to_string(self.prefix.join("logs/error.log")).unwrap_or_default();
        s.push_str(
            &std::fs::read_to_string(self.prefix.join("logs/stderr.log")).unwrap_or_default(),
        );
        s
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces each pattern, which must occur exactly once, so a change to the shipped site that
/// this test would silently stop exercising fails loudly instead.
fn substitute(text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (from, to) in pairs {
        assert_eq!(
            out.matches(from).count(),
            1,
            "deploy/nginx/querypad.conf must contain {from:?} exactly once"
        );
        out = out.replace(from, to);
    }
    out
}

/// Reads an SSE stream to its end: (event, arrival time since `start`) pairs.
async fn timed_events(mut sse: SseReader, start: Instant) -> Vec<(common::Sse, Duration)> {
    let mut out = Vec::new();
    while let Some(e) = sse.next().await {
        out.push((e, start.elapsed()));
    }
    out
}

/// Asserts the stream was incremental: the first event arrived well before `finished`, which
/// came after the fake LLM's delay; and the run succeeded.
fn assert_streamed(events: &[(common::Sse, Duration)]) {
    let kinds: Vec<&str> = events.iter().map(|(e, _)| e.event.as_str()).collect();
    assert!(kinds.len() >= 3, "{kinds:?}");
    let (first, t_first) = &events[0];
    let (last, t_last) = &events[events.len() - 1];
    assert_eq!(
        last.event, "finished",
        "the stream reaches its end: {kinds:?}"
    );
    assert_eq!(last.data["status"], "succeeded", "{:?}", last.data);
    assert_ne!(first.event, "finished");
    assert!(
        *t_first < Duration::from_millis(1000),
        "first event after {t_first:?}: buffered by the proxy?"
    );
    assert!(
        *t_last - *t_first >= LLM_DELAY - Duration::from_millis(300),
        "first event at {t_first:?}, finished at {t_last:?}: the events were not delivered as they happened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_events_stream_through_nginx_to_the_end() {
    if !Path::new(NGINX).exists() {
        eprintln!(
            "SKIP: {NGINX} is not installed (scripts/ci-deploy-checks.sh installs it); skipping the nginx test"
        );
        return;
    }
    let sandbox = Sandbox::new("nginx");
    let fake = FakeLlm::anthropic_with(std::sync::Arc::new(|_| {
        Step::after(
            LLM_DELAY,
            Reply::ToolUse {
                name: "submit_sql".into(),
                input: json!({"sql": "SELECT Name FROM Genre ORDER BY Name LIMIT 3", "explanation": "genres"}),
                text: None,
            },
        )
    }))
    .await;
    let mut p = Proc::start(&sandbox, &ProcOptions::with_fake_llm(&fake.base_url));
    let nginx = Nginx::start(&sandbox.root().join("nginx"), p.addr);
    let client = http_client();
    bounded(60, async {
        // A JSON request; nginx's own $request_id goes upstream and comes back.
        let resp = client
            .get(nginx.url("/api/v1/notebooks/1"))
            .send()
            .await
            .expect("through nginx");
        assert_eq!(resp.status(), 200);
        let generated = resp.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(
            generated.len() == 32 && generated.bytes().all(|b| b.is_ascii_hexdigit()),
            "nginx's $request_id: {generated}"
        );
        let nb: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(nb["id"], 1);
        // A caller's id passes through unchanged.
        let resp = client
            .get(nginx.url("/healthz"))
            .header("x-request-id", "nginx-e2e-7f3a")
            .send()
            .await
            .expect("healthz");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-request-id"], "nginx-e2e-7f3a");

        // An agent run's events through the SSE location.
        let r = fetch(
            client
                .post(nginx.url("/api/v1/agent/runs"))
                .json(&json!({"query": "three genres", "connection_id": 1, "notebook_id": 1})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let run_id = r.body["run_id"].as_str().expect("run id").to_string();
        let start = Instant::now();
        let resp = client
            .get(nginx.url(&format!("/api/v1/agent/runs/{run_id}/events")))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("events");
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/event-stream")
        );
        assert_eq!(
            resp.headers()
                .get("x-accel-buffering")
                .map(|v| v.to_str().unwrap_or_default()),
            Some("no")
        );
        assert!(
            resp.headers().get("content-encoding").is_none(),
            "an event stream must not be compressed"
        );
        let events = timed_events(SseReader::new(resp), start).await;
        assert_streamed(&events);

        // The seed endpoint streaming (Accept: text/event-stream) and answering JSON.
        let start = Instant::now();
        let resp = client
            .post(nginx.url("/mcp_agent/text-to-sql/"))
            .header("accept", "text/event-stream")
            .header("accept-encoding", "gzip")
            .json(&json!({"query": "three genres again", "connection_id": 1, "notebook_id": 1}))
            .send()
            .await
            .expect("seed endpoint");
        assert_eq!(resp.status(), 200);
        let events = timed_events(SseReader::new(resp), start).await;
        assert_streamed(&events);
        let r =
            fetch(client.post(nginx.url("/mcp_agent/text-to-sql/")).json(
                &json!({"query": "three genres as JSON", "connection_id": 1, "notebook_id": 1}),
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "succeeded", "{}", r.text);

        // MCP's streamable HTTP through its location (when this build serves /mcp).
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "nginx-test", "version": "0"}}});
        let resp = client
            .post(nginx.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("accept-encoding", "gzip")
            .json(&init)
            .send()
            .await
            .expect("mcp");
        if resp.status() == 404 {
            eprintln!("SKIP: this build has no /mcp; not checking MCP through nginx");
        } else {
            assert_eq!(resp.status(), 200, "{:?}", resp.headers());
            assert!(resp.headers().get("content-encoding").is_none(), "MCP streams must not be compressed");
            let mut body = String::new();
            let mut stream = resp.bytes_stream();
            while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut stream).await {
                body.push_str(&String::from_utf8_lossy(&chunk));
                if body.contains("protocolVersion") {
                    break;
                }
            }
            assert!(body.contains("protocolVersion"), "{body}");
        }

        // Bodies above client_max_body_size (= server.max_body_bytes) stop at nginx.
        let big = json!({"connection_id": 1, "sql": format!("SELECT '{}'", "x".repeat(1_100_000))});
        let resp = client
            .post(nginx.url("/api/v1/query"))
            .json(&big)
            .send()
            .await
            .expect("big body");
        assert_eq!(resp.status(), 413);

        // /metrics is for local scrapers only (allowed from 127.0.0.1, where this test runs).
        let m = fetch(client.get(nginx.url("/metrics"))).await;
        assert_eq!(m.status, 200);
        assert!(m.text.contains("querypad_agent_runs_total"), "{}", m.text);

        // Querypad logged nginx's request id; nginx's log has the same id and no query strings.
        let access = p.access_log();
        assert!(
            access.contains(&generated),
            "querypad's access log lacks {generated}:\n{access}"
        );
        assert!(access.contains("nginx-e2e-7f3a"), "{access}");
        let _ = fetch(client.get(nginx.url(&format!(
            "/api/v1/notebooks?api_key={}",
            common::FAKE_API_KEY
        ))))
        .await;
        let nginx_log = std::fs::read_to_string(nginx.prefix.join("logs/querypad.access.log"))
            .unwrap_or_default();
        assert!(
            nginx_log.contains(&format!("id={generated}")),
            "{nginx_log}"
        );
        assert!(
            !nginx_log.contains(common::FAKE_API_KEY),
            "nginx's site log must not record query strings: {nginx_log}"
        );

        p.sigterm();
        assert_eq!(
            p.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );
    })
    .await;
    drop(nginx);
}
