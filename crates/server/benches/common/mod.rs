//! Shared by the benches: the release server as a child process, /proc readings, percentiles.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary: `QUERYPAD_BIN`, else the one cargo built for this bench (release profile).
pub fn server_binary() -> PathBuf {
    std::env::var_os("QUERYPAD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_querypad")))
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`), 0 if unreadable.
pub fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0 // USER_HZ
}

/// The soft `RLIMIT_NOFILE` of this process.
pub fn nofile_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Nearest-rank percentile of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `querypad serve` on a free loopback port with a fresh data directory; stopped (SIGTERM, then
/// SIGKILL after 20 s) and its directory removed by [`Server::stop`].
pub struct Server {
    child: Child,
    stopped: bool,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    data: PathBuf,
}

impl Server {
    /// Starts the server with `env` and waits (at most 60 s) for `/readyz`.
    pub async fn start(binary: &Path, env: &[(&str, &str)], client: &reqwest::Client) -> Server {
        let port = free_port();
        let data =
            std::env::temp_dir().join(format!("querypad-bench-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("data dir");
        let mut cmd = Command::new(binary);
        cmd.args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        // Its log (the access log goes to stderr whatever the level) to a file, summarised by
        // `stop`, so the bench's own output stays readable.
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.join("server.stderr")).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            stopped: false,
            base: format!("http://127.0.0.1:{port}"),
            data,
        };
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client
                .get(format!("{}/readyz", server.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > until || matches!(server.child.try_wait(), Ok(Some(_))) {
                server.stop();
                panic!("the server did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server and removes its data directory; returns a summary of its log (warning
    /// and error lines by message, and whether it exited by itself before).
    pub fn stop(&mut self) -> String {
        self.stopped = true;
        let exited_before = matches!(self.child.try_wait(), Ok(Some(_)));
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let summary = log_summary(&self.data.join("server.stderr"));
        let _ = std::fs::remove_dir_all(&self.data);
        if exited_before {
            format!("the server had exited by itself; {summary}")
        } else {
            summary
        }
    }
}

/// Counts WARN/ERROR lines of a server log by their message (timestamps and ids dropped).
fn log_summary(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return "no server log".into();
    };
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for l in text.lines() {
        let level = if l.contains(" ERROR ") {
            "ERROR"
        } else if l.contains(" WARN ") {
            "WARN"
        } else {
            continue;
        };
        let msg = l.split_once(level).map(|(_, m)| m.trim()).unwrap_or(l);
        // Numbers (durations, ids) vary per line: fold them so equal messages count together.
        let msg: String = msg
            .split_whitespace()
            .map(|w| {
                if w.chars().any(|c| c.is_ascii_digit()) {
                    w.split('=')
                        .next()
                        .map(|k| format!("{k}=…"))
                        .unwrap_or_default()
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        *by.entry(format!(
            "{level} {}",
            msg.chars().take(200).collect::<String>()
        ))
        .or_default() += 1;
    }
    if by.is_empty() {
        return format!(
            "server log: no warnings or errors ({} lines)",
            text.lines().count()
        );
    }
    let mut out = String::from("server log warnings/errors:");
    let mut by: Vec<(String, usize)> = by.into_iter().collect();
    by.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    for (m, n) in by.iter().take(12) {
        out.push_str(&format!("\n  {n} x {m}"));
    }
    out
}

impl Drop for Server {
    /// A bench that panics must not leave its server running.
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}
