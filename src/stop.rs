//! Stopping a run from outside: which signal asked, so that the report can say so and the
//! exit code can tell an interrupt (130) from a termination (143).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::exit::Exit;

/// What stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Ctrl-C, SIGINT, Ctrl-Break.
    Interrupt,
    /// SIGTERM, or the Windows console closing.
    Terminate,
}

impl Why {
    #[must_use]
    pub fn exit(self) -> Exit {
        match self {
            Why::Interrupt => Exit::Interrupted,
            Why::Terminate => Exit::Terminated,
        }
    }

    /// In words, for the report's note.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Why::Interrupt => "interrupted (Ctrl-C)",
            Why::Terminate => "terminated (SIGTERM or console closed)",
        }
    }
}

/// A cancellation token that remembers why it was cancelled (the first reason wins).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    why: Arc<AtomicU8>,
}

impl Stop {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the run, for `why`.
    pub fn stop(&self, why: Why) {
        let code = match why {
            Why::Interrupt => 1,
            Why::Terminate => 2,
        };
        let _ = self
            .why
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.token.cancel();
    }

    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Why the run was stopped; `Interrupt` when the token was cancelled directly.
    #[must_use]
    pub fn why(&self) -> Option<Why> {
        if !self.token.is_cancelled() {
            return None;
        }
        Some(match self.why.load(Ordering::SeqCst) {
            2 => Why::Terminate,
            _ => Why::Interrupt,
        })
    }
}

impl From<CancellationToken> for Stop {
    fn from(token: CancellationToken) -> Self {
        Self {
            token,
            why: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let s = Stop::new();
        assert_eq!(s.why(), None);
        s.stop(Why::Terminate);
        s.stop(Why::Interrupt);
        assert_eq!(s.why(), Some(Why::Terminate));
        assert_eq!(s.why().map(|w| w.exit().code()), Some(143));
        let direct = Stop::from(CancellationToken::new());
        direct.token().cancel();
        assert_eq!(direct.why(), Some(Why::Interrupt));
    }
}
