//! Wall time of a run against its slowest probe: a run's wall time must be about its
//! slowest probe, never the sum. Every target is a listener on loopback that accepts and
//! stays silent, so each probe lasts one `--timeout` (the slowest kind of path).
//!
//! Baseline, measured in the same run: one such probe alone. Reported as ratios.
//!
//!     cargo bench --bench wall_time

use std::time::{Duration, Instant};

use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const TIMEOUT: &str = "300ms";

async fn silent_listeners(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        out.push(l.local_addr().expect("addr").to_string());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
    }
    out
}

async fn run(hosts: &[String], concurrency: usize) -> Duration {
    let list = hosts.join(",");
    let c = concurrency.to_string();
    let args = [
        "mssp-check",
        "--role",
        "mgmt",
        "--ih",
        &list,
        "--mailstore-host",
        "127.0.0.1:1",
        "--timeout",
        TIMEOUT,
        "--concurrency",
        &c,
        "--no-proxy",
    ];
    let cli = mssp_check::cli::Cli::try_parse_from(args).expect("args");
    let cfg = mssp_check::config::validate_check(&cli.check).expect("valid");
    let t = Instant::now();
    let report = mssp_check::app::check_with(
        &cfg,
        mssp_check::probe::connector::TcpConnector,
        CancellationToken::new(),
    )
    .await
    .expect("run");
    let took = t.elapsed();
    assert!(report.rows.len() > hosts.len(), "every target reported");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs bench binaries with --bench absent; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let reps = if quick { 1 } else { 5 };
    let one = silent_listeners(1).await;
    let baseline = median(futures_lite_collect(reps, || run(&one, 256)).await);
    println!("baseline: one silent probe, --timeout {TIMEOUT}: {baseline:?}");
    for n in [10usize, 100, 400] {
        let hosts = silent_listeners(n).await;
        let t = median(futures_lite_collect(reps, || run(&hosts, 256)).await);
        println!(
            "{n:>4} silent targets at once (--concurrency 256): {t:?} = {:.2}x the baseline (sum of probes would be {}x)",
            t.as_secs_f64() / baseline.as_secs_f64(),
            n
        );
    }
    let hosts = silent_listeners(10).await;
    let t = median(futures_lite_collect(reps, || run(&hosts, 1)).await);
    println!(
        "  10 silent targets one at a time (--concurrency 1): {t:?} = {:.2}x the baseline",
        t.as_secs_f64() / baseline.as_secs_f64()
    );
}

async fn futures_lite_collect<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(f().await);
    }
    v
}
