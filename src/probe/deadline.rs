//! Time limits: each step of a probe has its own timeout (to catch a stalled peer), and the
//! probe as a whole has a deadline (to catch a peer that trickles).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::observation::Phase;

/// How many step timeouts one probe may take in all.
pub const OVERALL_STEPS: u32 = 3;

/// A step ran out of time: its own timeout, or the probe's overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    pub phase: Phase,
    pub overall: bool,
}

/// The clock of one probe.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    step: Duration,
    overall: Instant,
}

impl Deadline {
    #[must_use]
    pub fn start(step: Duration) -> Self {
        Self {
            step,
            overall: Instant::now() + step * OVERALL_STEPS,
        }
    }

    /// Runs one step of `phase` under both limits.
    ///
    /// # Errors
    /// [`TimedOut`] naming the phase and which limit fired.
    pub async fn step<F: Future>(&self, phase: Phase, f: F) -> Result<F::Output, TimedOut> {
        let step_end = Instant::now() + self.step;
        let overall = self.overall < step_end;
        let end = if overall { self.overall } else { step_end };
        tokio::time::timeout_at(end, f)
            .await
            .map_err(|_| TimedOut { phase, overall })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_step_times_out_with_its_phase() {
        let d = Deadline::start(Duration::from_secs(5));
        let r = d.step(Phase::Tls, std::future::pending::<()>()).await;
        assert_eq!(
            r,
            Err(TimedOut {
                phase: Phase::Tls,
                overall: false
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_deadline_cuts_the_last_step() {
        let d = Deadline::start(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(12)).await;
        let r = d.step(Phase::Protocol, std::future::pending::<()>()).await;
        assert_eq!(
            r,
            Err(TimedOut {
                phase: Phase::Protocol,
                overall: true
            })
        );
    }
}
