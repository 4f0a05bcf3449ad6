//! The responder's connection slots: at most `max` connections in flight. At the limit a new
//! connection takes the slot of one that is already answered, or of one still short of its
//! TLS handshake after a grace time, so that idle and trickling connections cannot lock real
//! probes out (issue 13); only when every slot is busy serving is the newcomer turned away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// File handles the responder needs besides its connections: listeners, the runtime, stdio,
/// and the turned-away connections being drained. (Unix only: elsewhere there is no limit.)
#[cfg_attr(not(unix), allow(dead_code))]
const RESERVE: u64 = 32 + BUSY_DRAINERS as u64;

/// Turned-away connections being drained at once (see `accept`); beyond, they are closed
/// without a word.
pub(crate) const BUSY_DRAINERS: usize = 16;

/// `--max-connections` fitted to the open-file limit: raises the soft limit towards the hard
/// one when needed (as the checker does for `--concurrency`), and otherwise serves fewer
/// connections, with a note saying so. Out of handles, `accept()` fails and new connections
/// sit unanswered in the backlog, which a probe would read as a firewall drop.
pub(crate) fn fit_connections(wanted: usize) -> (usize, Option<String>) {
    #[cfg(unix)]
    {
        let want = (wanted as u64).saturating_add(RESERVE);
        match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _)) if soft >= want => (wanted, None),
            Ok((soft, hard)) => {
                let target = want.min(hard);
                let have = rlimit::setrlimit(rlimit::Resource::NOFILE, target, hard)
                    .map_or(soft, |()| target);
                fitted(wanted, have)
            }
            Err(_) => (wanted, None),
        }
    }
    #[cfg(not(unix))]
    {
        (wanted, None)
    }
}

/// The connections `have` open files allow, and the note when that is fewer than `wanted`.
#[cfg_attr(not(unix), allow(dead_code))]
fn fitted(wanted: usize, have: u64) -> (usize, Option<String>) {
    let want = (wanted as u64).saturating_add(RESERVE);
    if have >= want {
        return (wanted, None);
    }
    let fits = usize::try_from(have.saturating_sub(RESERVE).max(1)).unwrap_or(1);
    (
        fits,
        Some(format!(
            "--max-connections {wanted} needs {want} open files but this process may open only {have}; serving at most {fits} connections at a time (raise the limit with ulimit -n)"
        )),
    )
}

/// Where a connection is; set by the connection, read when a slot is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stage {
    /// Accepted; the TLS handshake (with the plain-text IMAP part before STARTTLS) is not done.
    Handshake = 0,
    /// TLS is up; the probe is being answered.
    Serving = 1,
    /// The answer is sent; we only wait for the client to close.
    Answered = 2,
}

/// One connection's stage, shared with [`Slots`].
#[derive(Debug, Clone, Default)]
pub(crate) struct StageCell(Arc<AtomicU8>);

impl StageCell {
    pub(crate) fn set(&self, s: Stage) {
        self.0.store(s as u8, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Stage {
        match self.0.load(Ordering::Relaxed) {
            0 => Stage::Handshake,
            1 => Stage::Serving,
            _ => Stage::Answered,
        }
    }
}

struct Entry {
    started: Instant,
    stage: StageCell,
    evict: CancellationToken,
}

/// The slots of one responder run.
pub(crate) struct Slots {
    max: usize,
    /// How long a connection may be short of its handshake before it can lose its slot: a
    /// real probe is through in milliseconds on a LAN, a few round trips across the world.
    grace: Duration,
    next: Mutex<u64>,
    live: Mutex<HashMap<u64, Entry>>,
}

/// A connection's place; dropping it frees the slot.
pub(crate) struct Slot {
    id: u64,
    slots: Arc<Slots>,
    pub(crate) stage: StageCell,
    /// Cancelled when a newer connection took this slot.
    pub(crate) evicted: CancellationToken,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().remove(&self.id);
    }
}

impl Slots {
    pub(crate) fn new(max: usize, grace: Duration) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            grace,
            next: Mutex::new(0),
            live: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Connections holding a slot.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A panicking connection task must not take the responder down with it.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection, evicting an answered or stuck one at the limit; `None`
    /// when every slot is busy serving. The second value says whom it evicted.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<(Slot, Option<Stage>)> {
        let id = {
            let mut n = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            *n
        };
        let mut live = self.lock();
        let mut evicted = None;
        if live.len() >= self.max {
            let now = Instant::now();
            let victim = pick(&live, now, self.grace)?;
            if let Some(e) = live.remove(&victim) {
                evicted = Some(e.stage.get());
                e.evict.cancel();
            }
        }
        let stage = StageCell::default();
        let evict = CancellationToken::new();
        live.insert(
            id,
            Entry {
                started: Instant::now(),
                stage: stage.clone(),
                evict: evict.clone(),
            },
        );
        drop(live);
        Some((
            Slot {
                id,
                slots: Arc::clone(self),
                stage,
                evicted: evict,
            },
            evicted,
        ))
    }
}

/// Answered connections first (they have what they came for), then the one stuck longest
/// before its handshake; never one being served.
fn pick(live: &HashMap<u64, Entry>, now: Instant, grace: Duration) -> Option<u64> {
    let oldest = |want: Stage, min_age: Duration| {
        live.iter()
            .filter(|(_, e)| e.stage.get() == want && now.duration_since(e.started) >= min_age)
            .min_by_key(|(id, e)| (e.started, **id))
            .map(|(id, _)| *id)
    };
    oldest(Stage::Answered, Duration::ZERO).or_else(|| oldest(Stage::Handshake, grace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fit_the_open_file_limit() {
        assert_eq!(fitted(64, 1024), (64, None));
        let (n, note) = fitted(1000, 128);
        assert_eq!(n, 80);
        let note = note.expect("said so");
        assert!(
            note.contains("may open only 128; serving at most 80"),
            "{note}"
        );
        assert_eq!(fitted(1000, 10).0, 1);
        let (n, _) = fitted(1000, 500);
        assert_eq!(u64::try_from(n).expect("small"), 500 - RESERVE);
    }

    #[tokio::test(start_paused = true)]
    async fn answered_then_stuck_go_first_never_the_served() {
        let slots = Slots::new(3, Duration::from_secs(1));
        let (serving, _) = slots.admit().expect("slot");
        serving.stage.set(Stage::Serving);
        let (stuck, _) = slots.admit().expect("slot");
        let (answered, _) = slots.admit().expect("slot");
        answered.stage.set(Stage::Answered);
        assert_eq!(slots.in_flight(), 3);

        let (young, gone) = slots.admit().expect("the answered one makes room");
        assert_eq!(gone, Some(Stage::Answered));
        assert!(answered.evicted.is_cancelled());
        // `stuck` and `young` are within their grace: no room.
        assert!(slots.admit().is_none());
        tokio::time::advance(Duration::from_millis(1500)).await;
        let (_new, gone) = slots.admit().expect("the stuck one makes room");
        assert_eq!(gone, Some(Stage::Handshake));
        assert!(stuck.evicted.is_cancelled() && !young.evicted.is_cancelled());
        assert!(!serving.evicted.is_cancelled());
        drop(answered);
        assert_eq!(slots.in_flight(), 3);
        drop(serving);
        assert_eq!(slots.in_flight(), 2);
    }
}
