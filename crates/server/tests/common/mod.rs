//! Starts the real server in-process on port 0 with a private data directory, and talks to it
//! over real HTTP.

#![allow(dead_code)]

use querypad::config::Config;
use querypad_testkit::tempfile_path::TempPath;
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub state: querypad::state::SharedState,
    pub data: TempPath,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let data = querypad_testkit::temp_dir();
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".into();
    config.server.data_dir = data.dir().to_path_buf();
    tweak(&mut config);
    let server = querypad::start(config).await.expect("server starts");
    let addr = server.local_addr().expect("bound");
    let state = server.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async move {
        let _ = rx.await;
    }));
    TestServer {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        state,
        data,
        shutdown: Some(tx),
        task: Some(task),
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.patch(self.url(path)).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }

    /// Runs ad-hoc SQL through `POST /api/v1/query`.
    pub async fn query(&self, connection_id: i64, sql: &str) -> Reply {
        self.post(
            "/api/v1/query",
            serde_json::json!({"connection_id": connection_id, "sql": sql}),
        )
        .await
    }

    /// Creates a connection from a URL and returns its id.
    pub async fn connect_url(&self, name: &str, url: &str) -> i64 {
        let r = self
            .post(
                "/api/v1/connections",
                serde_json::json!({"name": name, "url": url}),
            )
            .await;
        assert_eq!(r.status, 201, "create connection {name}: {}", r.text);
        r.body["id"].as_i64().expect("id")
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Asserts the error contract: status, code, and a message.
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(
        r.status, status,
        "expected {status} {code}, got {}: {}",
        r.status, r.text
    );
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without a message: {}",
        r.text
    );
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

/// Reads an SSE response to its end (or until `limit` events), parsing each event.
pub async fn read_sse(resp: reqwest::Response, limit: usize) -> Vec<Sse> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut ev = Sse {
                id: None,
                event: "message".into(),
                data: Value::Null,
            };
            let mut data = String::new();
            let mut any = false;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    ev.id = v.trim().parse().ok();
                    any = true;
                } else if let Some(v) = line.strip_prefix("event:") {
                    ev.event = v.trim().to_string();
                    any = true;
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                    any = true;
                }
            }
            if any {
                ev.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                out.push(ev);
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}
