//! Issue 3's load benchmark: N concurrent runs of the seed's request to
//! `POST /mcp_agent/text-to-sql/` against a fake Anthropic server that answers after 2 s, two
//! LLM calls per run (first a `submit_sql` whose SQL fails on the demo database, then — once the
//! request carries a `tool_result` block — a correct query).
//!
//! Prints, per N: completed (HTTP 200 with `status: succeeded`), lost (everything else, by
//! kind), p50/p99/max latency, the floor (2 calls × the fake's delay) and the ratios against it
//! and against a baseline measured in the same run (the same N clients making the same two
//! delayed calls straight to the fake, no querypad in between), the server's peak RSS (VmHWM)
//! and its ratio against its idle RSS, and the server's CPU time per run.
//!
//! Run with `bench/agent_load.sh` (raises `ulimit -n`, builds, runs), or
//! `cargo bench -p querypad --bench agent_load -- [--n 100,1000,10000] [--delay-ms 2000]
//! [--timeout-s 150] [--fake in-process|child] [--notebook ID|none] [--server-env K=V]
//! [--pause-s S] [--binary PATH]`. `QUERYPAD_BENCH_CLIENT_KEEPALIVE=off` turns off the client's
//! TCP keep-alive (reqwest's default, which with its 30 s `TCP_USER_TIMEOUT` makes the kernel
//! abort requests that wait more than ~30 s).
//!
//! Also printed: where the time goes (the run's own `timings_ms` vs what the client waited
//! beyond it, i.e. the store work before and after the run), completed runs whose answer was
//! not appended to the notebook, the server's peak descriptors and accept queue, the kernel's
//! TCP counters that changed during the burst, and the server's warnings and errors.
//!
//! The fake runs in this process when `RLIMIT_NOFILE` allows it (it needs a socket per
//! concurrent LLM call, the client a socket per request); otherwise (the default at N = 10,000
//! under a 20,000 limit) the same `FakeLlm::anthropic_with(handler)` runs in a child process of
//! this binary (`--fake-llm`), so each process stays within its own limit.
//!
//! Every loop is bounded in count and time: a phase that has not finished `timeout-s + 60` s
//! after its start stops and counts what is left as lost ("unfinished").

mod common;

use common::{Server, cpu_secs, nofile_limit, pct, proc_status_kib};
use querypad_testkit::fake_llm::{FakeLlm, Handler, Reply, Step};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WRONG_SQL: &str = "SELECT nope FROM Artist";
const RIGHT_SQL: &str = "SELECT Name FROM Artist LIMIT 5";
const QUESTION: &str = "Show me the names of five artists";

struct Args {
    ns: Vec<usize>,
    delay: Duration,
    timeout: Duration,
    fake: Option<String>,
    binary: PathBuf,
    /// `notebook_id` in the body: `Some(1)` (the seed's body, the demo notebook) or `None`.
    notebook: Option<i64>,
    /// Extra environment for the server (`--server-env K=V`, repeatable), for experiments.
    server_env: Vec<(String, String)>,
    /// Pause between the warm-up run and the burst (to attach a profiler).
    pause: Duration,
}

fn parse_args() -> Args {
    let mut args = Args {
        ns: vec![100, 1_000, 10_000],
        delay: Duration::from_millis(2000),
        timeout: Duration::from_secs(150),
        fake: None,
        binary: common::server_binary(),
        notebook: Some(1),
        server_env: Vec::new(),
        pause: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--n" => {
                args.ns = val()
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse().expect("--n: numbers"))
                    .collect()
            }
            "--delay-ms" => args.delay = Duration::from_millis(val().parse().expect("--delay-ms")),
            "--timeout-s" => {
                args.timeout = Duration::from_secs(val().parse().expect("--timeout-s"))
            }
            "--fake" => args.fake = Some(val()),
            "--binary" => args.binary = PathBuf::from(val()),
            "--pause-s" => args.pause = Duration::from_secs(val().parse().expect("--pause-s")),
            "--server-env" => {
                let v = val();
                let (k, v) = v.split_once('=').expect("--server-env K=V");
                args.server_env.push((k.to_string(), v.to_string()));
            }
            "--notebook" => {
                let v = val();
                args.notebook = if v == "none" {
                    None
                } else {
                    Some(v.parse().expect("--notebook ID|none"))
                };
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

// ---------------------------------------------------------------- the fake LLM

#[derive(Default)]
struct Counts {
    first: AtomicU64,
    second: AtomicU64,
}

fn has_tool_result(body: &Value) -> bool {
    body["messages"].as_array().into_iter().flatten().any(|m| {
        m["content"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["type"] == "tool_result")
    })
}

fn handler(delay: Duration, counts: Arc<Counts>) -> Handler {
    Arc::new(move |body: &Value| {
        let second = has_tool_result(body);
        let sql = if second {
            counts.second.fetch_add(1, Ordering::Relaxed);
            RIGHT_SQL
        } else {
            counts.first.fetch_add(1, Ordering::Relaxed);
            WRONG_SQL
        };
        Step::after(
            delay,
            Reply::ToolUse {
                name: "submit_sql".into(),
                input: json!({"sql": sql, "explanation": "bench"}),
                text: None,
            },
        )
    })
}

/// `--fake-llm --delay-ms D`: serves the fake until stdin closes; prints `base <url>` first and
/// answers a `stats` line with `stats <first> <second>`.
fn fake_child_main(delay: Duration) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let counts = Arc::new(Counts::default());
    let fake = rt.block_on(FakeLlm::anthropic_with(handler(delay, counts.clone())));
    println!("base {}", fake.base_url);
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "stats" {
            println!(
                "stats {} {}",
                counts.first.load(Ordering::Relaxed),
                counts.second.load(Ordering::Relaxed)
            );
            let _ = std::io::stdout().flush();
        }
    }
    drop(fake);
    drop(rt);
}

enum Fake {
    InProcess {
        fake: FakeLlm,
        counts: Arc<Counts>,
    },
    Child {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
        base_url: String,
    },
}

impl Fake {
    async fn start(in_process: bool, delay: Duration) -> Fake {
        if in_process {
            let counts = Arc::new(Counts::default());
            let fake = FakeLlm::anthropic_with(handler(delay, counts.clone())).await;
            return Fake::InProcess { fake, counts };
        }
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args(["--fake-llm", "--delay-ms", &delay.as_millis().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the fake LLM process");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("fake's first line");
        let base_url = line
            .trim()
            .strip_prefix("base ")
            .expect("`base <url>` from the fake")
            .to_string();
        Fake::Child {
            child,
            stdin,
            stdout,
            base_url,
        }
    }

    fn base_url(&self) -> &str {
        match self {
            Fake::InProcess { fake, .. } => &fake.base_url,
            Fake::Child { base_url, .. } => base_url,
        }
    }

    /// (first calls, second calls) answered so far.
    fn counts(&mut self) -> (u64, u64) {
        match self {
            Fake::InProcess { counts, .. } => (
                counts.first.load(Ordering::Relaxed),
                counts.second.load(Ordering::Relaxed),
            ),
            Fake::Child { stdin, stdout, .. } => {
                let _ = writeln!(stdin, "stats");
                let _ = stdin.flush();
                let mut line = String::new();
                let _ = stdout.read_line(&mut line);
                let mut w = line
                    .split_whitespace()
                    .skip(1)
                    .map(|x| x.parse().unwrap_or(0));
                (w.next().unwrap_or(0), w.next().unwrap_or(0))
            }
        }
    }

    fn stop(self) {
        if let Fake::Child {
            mut child, stdin, ..
        } = self
        {
            drop(stdin);
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------- one phase

#[derive(Default)]
struct PhaseResult {
    latencies: Vec<f64>,
    lost: std::collections::BTreeMap<String, usize>,
    server_total: Vec<f64>,
    server_llm: Vec<f64>,
    not_two_iterations: usize,
    /// Client latency minus the run's own `timings_ms.total`: the store work before and after
    /// the run, queueing for the store, and HTTP.
    outside_run: Vec<f64>,
    /// Completed runs whose answer was not appended to the notebook (`cell_id: null`).
    no_cell: usize,
    wall: f64,
}

fn short(e: &reqwest::Error) -> String {
    // Where it failed (connecting, or later on the request) and whether it was a time-out
    // (reqwest's own, or an OS ETIMEDOUT, which reqwest also reports as a time-out).
    let stage = if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    };
    let kind = format!(
        "{stage} {}",
        if e.is_timeout() { "timeout" } else { "error" }
    );
    let mut src: Option<&dyn std::error::Error> = Some(e);
    let mut last = String::new();
    while let Some(s) = src {
        last = s.to_string();
        src = s.source();
    }
    format!("{kind} ({})", last.chars().take(60).collect::<String>())
}

enum Outcome {
    Done { secs: f64, body: Value },
    Lost(String),
}

/// Fires `n` requests at once (each from its own task, released together) and waits for all,
/// at most `bound`.
async fn fire(
    n: usize,
    bound: Duration,
    make: Arc<dyn Fn() -> reqwest::RequestBuilder + Send + Sync>,
    check: fn(u16, &Value) -> Option<String>,
) -> PhaseResult {
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let make = make.clone();
        let mut go = go_rx.clone();
        set.spawn(async move {
            let _ = go.wait_for(|v| *v).await;
            let t0 = Instant::now();
            let resp = match make().send().await {
                Ok(r) => r,
                // When it failed tells which timer fired: 10 s buckets.
                Err(e) => {
                    return Outcome::Lost(format!(
                        "{} after {}-{} s",
                        short(&e),
                        t0.elapsed().as_secs() / 10 * 10,
                        t0.elapsed().as_secs() / 10 * 10 + 10
                    ));
                }
            };
            let status = resp.status().as_u16();
            let text = match resp.text().await {
                Ok(t) => t,
                Err(e) => return Outcome::Lost(short(&e)),
            };
            let secs = t0.elapsed().as_secs_f64();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match check(status, &body) {
                None => Outcome::Done { secs, body },
                Some(why) => Outcome::Lost(why),
            }
        });
    }
    let t0 = Instant::now();
    let _ = go_tx.send(true);
    let mut r = PhaseResult::default();
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(Ok(Outcome::Done { secs, body }))) => {
                r.latencies.push(secs);
                if let Some(t) = body["timings_ms"]["total"].as_f64() {
                    r.server_total.push(t / 1000.0);
                    r.outside_run.push(secs - t / 1000.0);
                    if body["cell_id"].is_null() && !body["notebook_id"].is_null() {
                        r.no_cell += 1;
                    }
                    r.server_llm
                        .push(body["timings_ms"]["llm"].as_f64().unwrap_or(0.0) / 1000.0);
                    if body["iterations"] != 2 {
                        r.not_two_iterations += 1;
                    }
                }
            }
            Ok(Some(Ok(Outcome::Lost(why)))) => *r.lost.entry(why).or_default() += 1,
            Ok(Some(Err(e))) => *r.lost.entry(format!("task failed: {e}")).or_default() += 1,
            Ok(None) => break,
            Err(_) => {
                let left = set.len();
                set.abort_all();
                *r.lost
                    .entry(format!("unfinished after {} s", bound.as_secs()))
                    .or_default() += left;
                break;
            }
        }
    }
    r.wall = t0.elapsed().as_secs_f64();
    r.latencies.sort_by(f64::total_cmp);
    r.server_total.sort_by(f64::total_cmp);
    r.server_llm.sort_by(f64::total_cmp);
    r.outside_run.sort_by(f64::total_cmp);
    r
}

fn check_run(status: u16, body: &Value) -> Option<String> {
    if status != 200 {
        let code = body["error"]["code"].as_str().unwrap_or("?");
        return Some(format!("HTTP {status} {code}"));
    }
    match body["status"].as_str() {
        Some("succeeded") => None,
        Some(s) => Some(format!(
            "200 status={s} reason={}",
            body["reason"].as_str().unwrap_or("-")
        )),
        None => Some("200 without a status".into()),
    }
}

fn check_fake(status: u16, body: &Value) -> Option<String> {
    (status != 200 || body["type"] != "message").then(|| format!("fake answered HTTP {status}"))
}

fn client(timeout: Duration) -> reqwest::Client {
    // reqwest 0.12 turns TCP keep-alive on by default (15 s idle, 3 probes 15 s apart);
    // QUERYPAD_BENCH_CLIENT_KEEPALIVE=off turns it off, to tell kernel aborts apart.
    let keepalive = std::env::var("QUERYPAD_BENCH_CLIENT_KEEPALIVE").map_or(true, |v| v != "off");
    reqwest::Client::builder()
        .tcp_keepalive(keepalive.then_some(Duration::from_secs(15)))
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(30))
        .timeout(timeout)
        .build()
        .expect("client")
}

/// The same N clients making the same two sequential delayed calls straight to the fake.
async fn baseline(n: usize, fake_base: &str, args: &Args) -> PhaseResult {
    let c = client(args.timeout);
    let url = format!("{fake_base}/v1/messages");
    let first = json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": QUESTION}]});
    let second = json!({"model": "m", "max_tokens": 64, "messages": [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "submit_sql", "input": {"sql": WRONG_SQL}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "no such column", "is_error": true}]},
    ]});
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, url, first, second) = (c.clone(), url.clone(), first.clone(), second.clone());
        let mut go = go_rx.clone();
        set.spawn(async move {
            let _ = go.wait_for(|v| *v).await;
            let t0 = Instant::now();
            // Two sequential calls per "run", like the agent makes.
            for (i, body) in [first, second].iter().enumerate() {
                let req = c
                    .post(&url)
                    .header("x-api-key", "fake")
                    .header("anthropic-version", "2023-06-01")
                    .json(body);
                let resp = req.send().await.map_err(|e| short(&e))?;
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.map_err(|e| short(&e))?;
                if let Some(why) = check_fake(status, &body) {
                    return Err(format!("call {}: {why}", i + 1));
                }
            }
            Ok::<f64, String>(t0.elapsed().as_secs_f64())
        });
    }
    let t0 = Instant::now();
    let _ = go_tx.send(true);
    let mut r = PhaseResult::default();
    let deadline = tokio::time::Instant::now() + args.timeout + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(Ok(Ok(secs)))) => r.latencies.push(secs),
            Ok(Some(Ok(Err(why)))) => *r.lost.entry(why).or_default() += 1,
            Ok(Some(Err(e))) => *r.lost.entry(format!("task failed: {e}")).or_default() += 1,
            Ok(None) => break,
            Err(_) => {
                let left = set.len();
                set.abort_all();
                *r.lost.entry("unfinished".into()).or_default() += left;
                break;
            }
        }
    }
    r.wall = t0.elapsed().as_secs_f64();
    r.latencies.sort_by(f64::total_cmp);
    r
}

/// The kernel's TCP counters (`/proc/net/netstat` TcpExt and friends; whole network namespace):
/// their changes during a phase tell listen-queue overflows, drops, keep-alive aborts.
fn tcp_counters() -> std::collections::BTreeMap<String, i64> {
    let mut out = std::collections::BTreeMap::new();
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        if let [names, values] = pair
            && names.starts_with("TcpExt:")
        {
            for (k, v) in names
                .split_whitespace()
                .zip(values.split_whitespace())
                .skip(1)
            {
                out.insert(k.to_string(), v.parse().unwrap_or(0));
            }
        }
    }
    out
}

/// Samples, every 250 ms on a thread of its own, the server's open descriptors and the accept
/// queues (`ss -ltn` Recv-Q) of the server's and the fake's listening sockets.
struct FdSampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    max: Arc<[AtomicU64; 3]>,
    thread: std::thread::JoinHandle<()>,
}

/// Recv-Q (connections waiting to be accepted) and Send-Q (backlog) of the listener on `port`.
fn listen_queue(port: u16) -> Option<(u64, u64)> {
    let out = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.lines().next()?.split_whitespace().skip(1);
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(0)
}

impl FdSampler {
    fn start(pid: u32, server_port: u16, fake_port: u16) -> FdSampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let max = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: at most an hour of samples even if never stopped.
            for _ in 0..14_400 {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                    m[0].fetch_max(dir.count() as u64, Ordering::Relaxed);
                }
                if let Some((q, _)) = listen_queue(server_port) {
                    m[1].fetch_max(q, Ordering::Relaxed);
                }
                if let Some((q, _)) = listen_queue(fake_port) {
                    m[2].fetch_max(q, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        FdSampler { stop, max, thread }
    }

    /// (peak descriptors, peak server accept queue, peak fake accept queue)
    fn stop(self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        (
            self.max[0].load(Ordering::Relaxed),
            self.max[1].load(Ordering::Relaxed),
            self.max[2].load(Ordering::Relaxed),
        )
    }
}

struct Row {
    n: usize,
    base: PhaseResult,
    run: PhaseResult,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
    /// VmRSS once every response is in (finished runs stay in memory 300 s for late readers).
    rss_end_kib: u64,
    /// Most descriptors the server held at once (sampled every 250 ms).
    fd_peak: u64,
    cpu_per_run_ms: f64,
    fake_calls: (u64, u64),
}

fn lost_text(r: &PhaseResult) -> String {
    if r.lost.is_empty() {
        return "-".into();
    }
    r.lost
        .iter()
        .map(|(k, v)| format!("{v}× {k}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn main() {
    if std::env::args().any(|a| a == "--fake-llm") {
        let delay = std::env::args()
            .skip_while(|a| a != "--delay-ms")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        fake_child_main(Duration::from_millis(delay));
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(bench(parse_args()));
}

async fn bench(args: Args) {
    if !args.binary.exists() {
        eprintln!(
            "no server binary at {}: build it with `cargo build --release -p querypad`",
            args.binary.display()
        );
        std::process::exit(2);
    }
    let max_n = args.ns.iter().copied().max().unwrap_or(0) as u64;
    let limit = nofile_limit();
    let in_process = match args.fake.as_deref() {
        Some("in-process") => true,
        Some("child") => false,
        Some(other) => panic!("--fake in-process|child, not {other}"),
        // The client needs a socket per request and the fake one per concurrent LLM call.
        None => limit >= 2 * max_n + 1024,
    };
    let floor = 2.0 * args.delay.as_secs_f64();
    eprintln!(
        "agent_load: N = {:?}, fake delay {} ms (floor {floor:.1} s), RLIMIT_NOFILE {limit} (the server needs ~2N + 50), fake {}, server {}",
        args.ns,
        args.delay.as_millis(),
        if in_process {
            "in this process"
        } else {
            "in a child process"
        },
        args.binary.display()
    );
    if limit < 2 * max_n + 64 {
        eprintln!(
            "agent_load: WARNING: RLIMIT_NOFILE {limit} < 2N + 64 = {}: the server cannot hold N client sockets and N LLM sockets at once",
            2 * max_n + 64
        );
    }
    let mut fake = Fake::start(in_process, args.delay).await;
    let fake_base = fake.base_url().to_string();
    let mut rows = Vec::new();
    for &n in &args.ns {
        eprintln!("agent_load: N = {n}: baseline (clients straight to the fake)…");
        let base = baseline(n, &fake_base, &args).await;
        let c = client(args.timeout);
        let mut env = vec![
            ("ANTHROPIC_API_KEY", "fake"),
            ("ANTHROPIC_BASE_URL", fake_base.as_str()),
            ("QUERYPAD_MAX_CONCURRENT_RUNS", "20000"),
            ("QUERYPAD_MAX_CONCURRENT_LLM_CALLS", "20000"),
            ("QUERYPAD_REQUEST_TIMEOUT", "120"),
        ];
        env.extend(
            args.server_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let mut server = Server::start(&args.binary, &env, &c).await;
        let pid = server.pid();
        eprintln!("agent_load: N = {n}: server pid {pid} at {}", server.base);
        // One run first: warms the schema cache and checks the path works.
        let url = format!("{}/mcp_agent/text-to-sql/", server.base);
        let body = json!({"query": QUESTION, "connection_id": 1, "notebook_id": args.notebook});
        let warm = c
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("warm-up request");
        let warm_status = warm.status().as_u16();
        let warm_body: Value = warm.json().await.unwrap_or(Value::Null);
        if let Some(why) = check_run(warm_status, &warm_body) {
            server.stop();
            fake.stop();
            panic!("the warm-up run did not succeed: {why}: {warm_body}");
        }
        let rss_idle = proc_status_kib(pid, "VmRSS");
        if !args.pause.is_zero() {
            eprintln!(
                "agent_load: N = {n}: pausing {} s (attach a profiler to pid {pid})",
                args.pause.as_secs()
            );
            tokio::time::sleep(args.pause).await;
        }
        let calls_before = fake.counts();
        let cpu0 = cpu_secs(pid);
        eprintln!("agent_load: N = {n}: firing {n} runs at once…");
        let make: Arc<dyn Fn() -> reqwest::RequestBuilder + Send + Sync> = {
            let (c, url, body) = (c.clone(), url.clone(), body.clone());
            Arc::new(move || c.post(&url).json(&body))
        };
        let net0 = tcp_counters();
        let backlog = listen_queue(port_of(&server.base)).map_or(0, |q| q.1);
        let fds = FdSampler::start(pid, port_of(&server.base), port_of(&fake_base));
        let run = fire(n, args.timeout + Duration::from_secs(60), make, check_run).await;
        let cpu = cpu_secs(pid) - cpu0;
        let rss_peak = proc_status_kib(pid, "VmHWM");
        let rss_end = proc_status_kib(pid, "VmRSS");
        let (fd_peak, q_server, q_fake) = fds.stop();
        eprintln!(
            "agent_load: N = {n}: peak accept queue (sampled every 250 ms): server {q_server} of backlog {backlog}, fake {q_fake}"
        );
        let net1 = tcp_counters();
        let net: Vec<String> = net1
            .iter()
            .filter_map(|(k, v)| {
                let d = v - net0.get(k).copied().unwrap_or(0);
                let interesting = [
                    "Listen",
                    "Syncookies",
                    "Timeout",
                    "Abort",
                    "Drop",
                    "KeepAlive",
                    "SynRetrans",
                    "Memory",
                    "Prune",
                    "Collapse",
                ]
                .iter()
                .any(|w| k.contains(w));
                (d != 0 && interesting).then(|| format!("{k} +{d}"))
            })
            .collect();
        eprintln!(
            "agent_load: N = {n}: loopback TCP counters during the phase (/proc/net/netstat): {}",
            if net.is_empty() {
                "no change".into()
            } else {
                net.join(", ")
            }
        );
        let calls_after = fake.counts();
        let log = server.stop();
        eprintln!("agent_load: N = {n}: {log}");
        let row = Row {
            n,
            base,
            run,
            rss_idle_kib: rss_idle,
            rss_peak_kib: rss_peak,
            rss_end_kib: rss_end,
            fd_peak,
            cpu_per_run_ms: cpu * 1000.0 / n as f64,
            fake_calls: (
                calls_after.0 - calls_before.0,
                calls_after.1 - calls_before.1,
            ),
        };
        print_row(&row);
        rows.push(row);
        drop(c);
        // Let sockets of this phase close before the next one.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    fake.stop();
    print_table(&rows, floor, args.notebook);
}

fn print_row(r: &Row) {
    eprintln!(
        "agent_load: N = {}: done in {:.1} s: {} completed, lost: {}; baseline lost: {}",
        r.n,
        r.run.wall,
        r.run.latencies.len(),
        lost_text(&r.run),
        lost_text(&r.base),
    );
}

fn print_table(rows: &[Row], floor: f64, notebook: Option<i64>) {
    println!();
    println!(
        "agent load: POST /mcp_agent/text-to-sql/ with notebook_id {}, 2 LLM calls per run, fake latency {:.1} s each; floor = {floor:.1} s",
        notebook.map_or("null".to_string(), |n| n.to_string()),
        floor / 2.0
    );
    println!(
        "baseline = the same N clients making the same 2 calls straight to the fake (same run); RSS ratio = peak (VmHWM) / idle after one warm-up run"
    );
    println!(
        "{:>6} {:>9} {:>6} {:>8} {:>8} {:>8} {:>11} {:>11} {:>10} {:>10} {:>9} {:>9} {:>7} {:>9}",
        "N",
        "completed",
        "lost",
        "p50 s",
        "p99 s",
        "max s",
        "p50/floor",
        "p99/floor",
        "base p99",
        "p99/base",
        "peak MiB",
        "idle MiB",
        "RSS x",
        "CPU ms/run"
    );
    for r in rows {
        let l = &r.run.latencies;
        let lost: usize = r.run.lost.values().sum();
        let (p50, p99, max) = (pct(l, 50.0), pct(l, 99.0), pct(l, 100.0));
        let bp99 = pct(&r.base.latencies, 99.0);
        println!(
            "{:>6} {:>9} {:>6} {:>8.3} {:>8.3} {:>8.3} {:>11.3} {:>11.3} {:>10.3} {:>10.3} {:>9.1} {:>9.1} {:>7.2} {:>9.2}",
            r.n,
            l.len(),
            lost,
            p50,
            p99,
            max,
            p50 / floor,
            p99 / floor,
            bp99,
            p99 / bp99,
            r.rss_peak_kib as f64 / 1024.0,
            r.rss_idle_kib as f64 / 1024.0,
            r.rss_peak_kib as f64 / r.rss_idle_kib.max(1) as f64,
            r.cpu_per_run_ms,
        );
    }
    println!();
    println!(
        "where the time goes (completed runs; s): the run's own timings_ms.total and .llm, and client latency − total (store work before/after the run, HTTP)"
    );
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>8} {:>8} {:>10} {:>11} {:>8} {:>9}",
        "N",
        "total p50",
        "total p99",
        "llm p50",
        "llm p99",
        "outside p50",
        "outside p99",
        "wall s",
        "no cell",
        "iter != 2",
        "fake calls",
        "fd peak",
        "end MiB"
    );
    for r in rows {
        let x = &r.run;
        println!(
            "{:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>11.3} {:>11.3} {:>8.1} {:>8} {:>10} {:>11} {:>8} {:>9.1}",
            r.n,
            pct(&x.server_total, 50.0),
            pct(&x.server_total, 99.0),
            pct(&x.server_llm, 50.0),
            pct(&x.server_llm, 99.0),
            pct(&x.outside_run, 50.0),
            pct(&x.outside_run, 99.0),
            x.wall,
            x.no_cell,
            x.not_two_iterations,
            format!("{}/{}", r.fake_calls.0, r.fake_calls.1),
            r.fd_peak,
            r.rss_end_kib as f64 / 1024.0,
        );
    }
    for r in rows {
        println!(
            "N = {}: lost: {}; baseline lost: {}",
            r.n,
            lost_text(&r.run),
            lost_text(&r.base)
        );
    }
    println!(
        "targets: 0 lost at 10,000; p99 <= 1.05 x floor (4.2 s with the 2 s fake); peak RSS <= 1024 MiB"
    );
}
