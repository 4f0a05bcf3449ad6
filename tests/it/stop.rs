//! Stopping a run tells the truth: Ctrl-C (SIGINT) and SIGTERM print the report of what
//! finished, mark the rest `cancelled`, and exit 130 / 143; a probe that panics is an internal
//! error of its path (exit 3), never "cancelled".

#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(unix)]
use crate::fixtures;

/// Starts a run whose 8472 path waits on a silent TLS port (20 s timeout) while its 8473
/// path is refused at once, sends `signal` after the refusal has surely been seen, and
/// returns the exit code and the JSON report.
#[cfg(unix)]
async fn stopped_by(signal: &str) -> (Option<i32>, serde_json::Value, Duration) {
    let silent = fixtures::silent_server("127.0.0.1:0").await;
    let closed = fixtures::closed_port("127.0.0.1");
    let child = crate::bin()
        .args([
            "--role",
            "mgmt",
            "--ih",
            &silent.to_string(),
            "--cas",
            &closed.to_string(),
            "--mailstore-host",
            &closed.to_string(),
            "--timeout",
            "20s",
            "--format",
            "json",
            "--no-proxy",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joins")
        .expect("waits");
    let took = sent.elapsed();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), doc, took)
}

#[cfg(unix)]
fn verdict_of<'a>(doc: &'a serde_json::Value, path: &str) -> &'a str {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["path"] == path)
        .and_then(|r| r["verdict"].as_str())
        .unwrap_or_else(|| panic!("no {path}"))
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_prints_what_finished_and_exits_130() {
    let (code, doc, took) = stopped_by("-INT").await;
    assert_eq!(code, Some(130), "{doc}");
    assert_eq!(doc["exit_code"], 130);
    assert_eq!(verdict_of(&doc, "multi-8472-mgmt-ih"), "cancelled");
    assert_eq!(
        verdict_of(&doc, "multi-8473-mgmt-cas"),
        "refused",
        "finished before the stop"
    );
    assert_eq!(doc["summary"]["cancelled"], 1);
    crate::profiles::assert_schema("schemas/report-1.schema.json", &doc);
    assert!(
        doc["notes"].to_string().contains("interrupted"),
        "{}",
        doc["notes"]
    );
    assert!(took < Duration::from_secs(5), "stopped promptly: {took:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_prints_what_finished_and_exits_143() {
    let (code, doc, _) = stopped_by("-TERM").await;
    assert_eq!(code, Some(143), "{doc}");
    assert_eq!(doc["exit_code"], 143);
    assert_eq!(verdict_of(&doc, "multi-8472-mgmt-ih"), "cancelled");
    assert!(doc["notes"].to_string().contains("terminated"));
}

/// A connector whose connect to 127.0.0.2 panics (a bug in a probe, not a network result);
/// the rest (this machine's own inbound ports) goes through TCP.
struct Panics;

impl mssp_check::probe::connector::Connector for Panics {
    type Stream = tokio::net::TcpStream;
    async fn connect(&self, addr: std::net::SocketAddr) -> std::io::Result<Self::Stream> {
        assert_ne!(addr.ip().to_string(), "127.0.0.2", "a bug in a probe");
        tokio::net::TcpStream::connect(addr).await
    }
}

#[tokio::test]
async fn a_panicking_probe_is_an_internal_error_of_its_path() {
    let r = crate::check_with(
        &["--role", "ih", "--mgmt", "127.0.0.2", "--timeout", "1s"],
        Panics,
    )
    .await;
    let row = crate::row(&r, "multi-8471-ih-mgmt");
    assert_eq!(row.judgement.verdict.label(), "internal-error");
    assert!(
        row.judgement.reason.contains("a bug in a probe"),
        "{}",
        row.judgement.reason
    );
    assert_eq!(r.exit().code(), 3);
    assert_eq!(
        crate::verdicts(&r, "multi-143-ih-any"),
        ["skipped"],
        "the other paths are unaffected"
    );
}
