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

// ---------------------------------------------------------------------------------------------
// Process-level support: the real `querypad` binary in a private sandbox directory, its logs
// scanned for secrets, a private PostgreSQL instance, and an incremental SSE reader.
// ---------------------------------------------------------------------------------------------

/// The Anthropic key handed to every process-level test's server. The fake LLM accepts any key;
/// this one must never appear in a log line.
pub const FAKE_API_KEY: &str = "fake-anthropic-key-QpFakeKey7hT2vLk9wXz4-notreal";

/// The password of the private PostgreSQL instance's superuser; must never appear in a log line.
pub const PG_PASSWORD: &str = "pg-secret-Zx9!";

/// A private temporary directory for one test's processes: `data/` (the data directory, kept
/// across restarts) and `logs/<n>/` (one per process started: app, access, stdout and stderr).
/// On drop it scans every log file for [`FAKE_API_KEY`], [`PG_PASSWORD`] and any secret added
/// with [`Sandbox::add_secret`], failing the test if one appears, then removes the directory
/// (on a failing test it first prints the tail of each log, then removes it anyway).
pub struct Sandbox {
    root: std::path::PathBuf,
    secrets: std::sync::Mutex<Vec<String>>,
    started: std::sync::atomic::AtomicUsize,
}

impl Sandbox {
    /// A fresh sandbox under the system temp directory.
    pub fn new(name: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!(
            "querypad-proc-{name}-{}-{}",
            std::process::id(),
            querypad_testkit::unique()
        ));
        std::fs::create_dir_all(root.join("data")).expect("create sandbox");
        std::fs::create_dir_all(root.join("logs")).expect("create sandbox logs");
        Sandbox {
            root,
            secrets: std::sync::Mutex::new(vec![FAKE_API_KEY.to_string(), PG_PASSWORD.to_string()]),
            started: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The sandbox directory.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The data directory (`--data-dir`).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.root.join("data")
    }

    /// Another string that must never be logged.
    pub fn add_secret(&self, secret: &str) {
        self.secrets.lock().unwrap().push(secret.to_string());
    }

    fn next_log_dir(&self) -> std::path::PathBuf {
        let n = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = self.root.join("logs").join(format!("{n:03}"));
        std::fs::create_dir_all(&dir).expect("create log dir");
        dir
    }

    /// Every log file written so far: (path, contents).
    pub fn log_files(&self) -> Vec<(std::path::PathBuf, String)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                if p.is_dir() {
                    walk(&p, out);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    out.push((p, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.join("logs"), &mut out);
        out
    }

    /// Log lines (with their file and line number) that contain a secret.
    pub fn secret_leaks(&self) -> Vec<String> {
        let secrets = self.secrets.lock().unwrap().clone();
        let mut leaks = Vec::new();
        for (path, text) in self.log_files() {
            for (i, line) in text.lines().enumerate() {
                for s in &secrets {
                    if line.contains(s.as_str()) {
                        leaks.push(format!(
                            "{}:{}: contains {s:?}: {line}",
                            path.display(),
                            i + 1
                        ));
                    }
                }
            }
        }
        leaks
    }

    /// (lines scanned, files scanned), to show that a scan was not vacuous.
    pub fn log_volume(&self) -> (usize, usize) {
        let files = self.log_files();
        (
            files.iter().map(|(_, t)| t.lines().count()).sum(),
            files.len(),
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (path, text) in self.log_files() {
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(25)..];
                eprintln!(
                    "---- {} (last {} lines)\n{}",
                    path.display(),
                    tail.len(),
                    tail.join("\n")
                );
            }
            let _ = std::fs::remove_dir_all(&self.root);
            return;
        }
        let leaks = self.secret_leaks();
        let _ = std::fs::remove_dir_all(&self.root);
        assert!(
            leaks.is_empty(),
            "secrets found in log lines:\n{}",
            leaks.join("\n")
        );
    }
}

/// A running `querypad serve` process; killed (SIGKILL) on drop if still running.
pub struct Proc {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The bound address.
    pub addr: std::net::SocketAddr,
    /// This process's log directory (`app.*.log`, `access.*.log`, `stdout.log`, `stderr.log`).
    pub log_dir: std::path::PathBuf,
}

/// How to start a [`Proc`].
#[derive(Default, Clone)]
pub struct ProcOptions {
    /// Extra `serve` arguments.
    pub args: Vec<String>,
    /// Environment variables (the parent's environment is not inherited, except `PATH`).
    pub env: Vec<(String, String)>,
    /// Arguments placed before `serve` (e.g. `--config FILE`).
    pub global_args: Vec<String>,
}

impl ProcOptions {
    /// With the fake Anthropic server at `base_url` and [`FAKE_API_KEY`].
    pub fn with_fake_llm(base_url: &str) -> ProcOptions {
        let mut o = ProcOptions::default();
        o.env("ANTHROPIC_API_KEY", FAKE_API_KEY)
            .env("ANTHROPIC_BASE_URL", base_url);
        o
    }

    /// Adds `serve` arguments.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    /// Adds an environment variable.
    pub fn env(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
}

/// How long a start may take before the test fails.
pub const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Proc {
    /// Starts the binary on `127.0.0.1:0` with the sandbox's data directory and fresh log files,
    /// and waits until it has logged the address it listens on.
    pub fn start(sandbox: &Sandbox, opts: &ProcOptions) -> Proc {
        let log_dir = sandbox.next_log_dir();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_querypad"));
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.current_dir(sandbox.root())
            .args(&opts.global_args)
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(sandbox.data_dir())
            .arg("--error-log")
            .arg(log_dir.join("app.log"))
            .arg("--access-log")
            .arg(log_dir.join("access.log"))
            .args(&opts.args)
            .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(log_dir.join("stdout.log")).expect("stdout file"))
            .stderr(std::fs::File::create(log_dir.join("stderr.log")).expect("stderr file"));
        let mut child = cmd.spawn().expect("spawn querypad");
        let started = std::time::Instant::now();
        let addr = loop {
            if let Some(addr) = listening_addr(&log_dir) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(log_dir.join("stderr.log")).unwrap_or_default();
                panic!("querypad exited at start with {status}: {err}");
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("querypad did not log its address within {START_TIMEOUT:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        Proc {
            child,
            base: format!("http://{addr}"),
            addr,
            log_dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends SIGTERM (through `kill(1)`, so the tests need no libc).
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Sends a signal by name (`TERM`, `INT`, ...) through `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// SIGKILL, and reaps the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= until {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// This process's logs so far, all files concatenated (app, access, stdout, stderr).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.log_dir) {
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
        out
    }

    /// The access log lines so far (the daily file `access.<date>.log`).
    pub fn access_log(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.log_dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("access") {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running() {
            self.kill9();
        }
    }
}

/// The address in the "listening on http://ADDR/" line of the application log files in `dir`.
fn listening_addr(dir: &std::path::Path) -> Option<std::net::SocketAddr> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if !e.file_name().to_string_lossy().starts_with("app") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).ok()?;
        if let Some(i) = text.find("listening on http://") {
            let rest = &text[i + "listening on http://".len()..];
            let end = rest.find('/')?;
            return rest[..end].parse().ok();
        }
    }
    None
}

/// An HTTP client for process tests: loopback only, never through a proxy from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
}

/// Sends a request and reads the whole answer.
pub async fn fetch(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text }
}

/// A port nothing listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind :0")
        .local_addr()
        .expect("addr")
        .port()
}

/// Reads server-sent events one at a time as they arrive.
pub struct SseReader {
    stream: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>,
    >,
    buf: String,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
}

impl SseReader {
    /// Wraps an SSE response.
    pub fn new(resp: reqwest::Response) -> SseReader {
        let headers = resp.headers().clone();
        SseReader {
            stream: Box::pin(resp.bytes_stream()),
            buf: String::new(),
            headers,
        }
    }

    /// The next event, or `None` when the stream ends (keep-alive comments are skipped).
    pub async fn next(&mut self) -> Option<Sse> {
        use futures_util::StreamExt;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
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
                    return Some(ev);
                }
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

/// A private PostgreSQL instance (initdb + pg_ctl from `/usr/lib/postgresql/*/bin`) on a free
/// loopback port, with password authentication over TCP ([`PG_PASSWORD`] for `postgres`) and
/// trust on its private Unix socket (for the test's own `psql`). As root, its commands run as
/// the `postgres` OS user. Stopped (immediately) and removed on drop.
pub struct PrivatePg {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    as_postgres: bool,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
}

impl PrivatePg {
    /// Creates and starts the instance, or prints a SKIP line and returns `None` when the
    /// PostgreSQL server binaries are not installed.
    pub fn start() -> Option<PrivatePg> {
        let mut bins: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .collect();
        bins.sort_by_key(|b| {
            b.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        let Some(bin) = bins.pop() else {
            eprintln!("SKIP: no initdb/pg_ctl under /usr/lib/postgresql/*/bin; skipping this test");
            return None;
        };
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "querypad-pg-{}-{}",
            std::process::id(),
            querypad_testkit::unique()
        ));
        std::fs::create_dir_all(dir.join("sock")).expect("create pg dir");
        std::fs::write(dir.join("pwfile"), format!("{PG_PASSWORD}\n")).expect("pwfile");
        let pg = PrivatePg {
            dir,
            bin,
            as_postgres,
            port: free_port(),
        };
        if as_postgres {
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the private PostgreSQL directory to postgres");
        }
        let data = pg.dir.join("data");
        let pwfile = pg.dir.join("pwfile");
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        pg.start_server();
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
        let out = self
            .command(tool, args)
            .output()
            .expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn command(&self, tool: &str, args: &[&std::ffi::OsStr]) -> std::process::Command {
        let path = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        };
        cmd.args(args)
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.join("sock").display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "-o".as_ref(),
                opts.as_ref(),
                "start".as_ref(),
            ],
        );
    }

    /// Stops the server (`-m fast`: sessions are ended, as in a restart of a real server).
    pub fn stop_server(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Runs `sql` through `psql` on the private socket (trust) and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let sock = self.dir.join("sock");
        let port = self.port.to_string();
        let out = self.run(
            "psql",
            &[
                "-X".as_ref(),
                "-h".as_ref(),
                sock.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-d".as_ref(),
                "postgres".as_ref(),
                "-tAc".as_ref(),
                sql.as_ref(),
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The body of `POST /api/v1/connections` for this instance, with `password`.
    pub fn connection_body(&self, name: &str, password: &str) -> Value {
        serde_json::json!({
            "name": name, "kind": "postgres", "host": "127.0.0.1", "port": self.port,
            "database": "postgres", "username": "postgres", "password": password, "tls_mode": "disable",
        })
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .command(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether this process runs as root (PostgreSQL refuses to run as root).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `fut` at most `secs` seconds, failing the test (and so dropping every guard) after.
pub async fn bounded<T>(secs: u64, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {secs} s"))
}

/// A file of this repository, found from this crate's manifest directory (compiled into the
/// test itself, so it always names the checkout under test).
pub fn repo_file(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}
