//! A progress line on stderr while a run is not instant, when stderr is a terminal. The
//! report itself never carries it.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Probes finished out of probes started.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicUsize,
    pub total: AtomicUsize,
}

impl Progress {
    pub fn add(&self, n: usize) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }
    pub fn finish_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Shows `checking… 12/40` on stderr after a short delay, until `stop` fires; then clears
/// the line. Does nothing when stderr is not a terminal. Await the handle after `stop` so
/// that the line is gone before the report prints.
#[must_use]
pub fn show(
    progress: Arc<Progress>,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(700)) => {}
        }
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            let line = format!(
                "\r\x1b[2Kchecking… {}/{} probes done",
                progress.done.load(Ordering::Relaxed),
                progress.total.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
        }
        let _ = std::io::stderr().write_all(b"\r\x1b[2K");
    }))
}
