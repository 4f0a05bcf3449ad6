//! What a run has learned about how fast each route answers a TCP SYN, so that a silent
//! port can be called `filtered` early — as nmap does — once hosts behind the same route
//! have shown how long an answer takes. Never from one unanswered attempt: the caller needs
//! [`Knowledge::attempts`] independent attempts, each unanswered for [`Knowledge::wait`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Attempts that must all go unanswered before a port is called filtered early.
pub const SILENT_ATTEMPTS: u32 = 5;
/// ... on a route where an attempt went unanswered although the host was there (loss).
pub const SILENT_ATTEMPTS_LOSSY: u32 = 10;
/// The shortest wait for one attempt, whatever the round trip: a scheduler hiccup or a busy
/// server's accept queue must not read as a drop.
pub const MIN_WAIT: Duration = Duration::from_millis(150);

/// The hosts that share a route: the same IPv4 /24 or IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Route {
    V4([u8; 3]),
    V6([u16; 4]),
}

impl From<IpAddr> for Route {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                Route::V4([o[0], o[1], o[2]])
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Route::V6([s[0], s[1], s[2], s[3]])
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    slowest: Duration,
    answers: u32,
    lossy: bool,
}

/// When a silent attempt can be given up early on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knowledge {
    /// How long one attempt must go unanswered.
    pub wait: Duration,
    /// How many independent attempts must all go unanswered.
    pub attempts: u32,
    /// The slowest answer seen on the route.
    pub slowest: Duration,
}

/// Answer times per route, shared by every probe of a run.
#[derive(Debug, Default)]
pub struct RouteTimes {
    routes: Mutex<HashMap<Route, Stats>>,
}

impl RouteTimes {
    /// A SYN to `ip` was answered (SYN-ACK, RST or ICMP) after `took`.
    pub fn answered(&self, ip: IpAddr, took: Duration) {
        let mut routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = routes.entry(Route::from(ip)).or_default();
        s.slowest = s.slowest.max(took);
        s.answers = s.answers.saturating_add(1);
    }

    /// An attempt to `ip` went unanswered for longer than [`Knowledge::wait`] although the
    /// host answered another attempt: packets get lost on this route.
    pub fn lost(&self, ip: IpAddr) {
        let mut routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        routes.entry(Route::from(ip)).or_default().lossy = true;
    }

    /// What is known about `ip`'s route; `None` until something behind it has answered.
    #[must_use]
    pub fn knowledge(&self, ip: IpAddr) -> Option<Knowledge> {
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = routes.get(&Route::from(ip)).filter(|s| s.answers > 0)?;
        Some(Knowledge {
            wait: wait_for(s.slowest),
            attempts: if s.lossy {
                SILENT_ATTEMPTS_LOSSY
            } else {
                SILENT_ATTEMPTS
            },
            slowest: s.slowest,
        })
    }
}

/// How long an attempt waits on a route whose slowest answer took `slowest`: four times that
/// (a queue at the far end, a busy scheduler here), and never less than [`MIN_WAIT`].
#[must_use]
pub fn wait_for(slowest: Duration) -> Duration {
    (slowest * 4 + Duration::from_millis(50)).max(MIN_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn nothing_is_known_until_the_route_answers() {
        let t = RouteTimes::default();
        assert_eq!(t.knowledge(ip("198.18.1.2")), None);
        t.answered(ip("198.18.1.7"), Duration::from_millis(2));
        let k = t.knowledge(ip("198.18.1.2")).expect("same /24");
        assert_eq!(k.wait, MIN_WAIT);
        assert_eq!(k.attempts, SILENT_ATTEMPTS);
        assert_eq!(t.knowledge(ip("198.18.2.2")), None, "another /24");
        assert_eq!(t.knowledge(ip("fd00:18:1::2")), None, "another family");
    }

    #[test]
    fn the_slowest_answer_sets_the_wait_and_loss_asks_for_more_attempts() {
        let t = RouteTimes::default();
        t.answered(ip("fd00:18:1::2"), Duration::from_millis(10));
        t.answered(ip("fd00:18:1::9"), Duration::from_millis(100));
        t.answered(ip("fd00:18:1::3"), Duration::from_millis(20));
        let k = t.knowledge(ip("fd00:18:1::5")).expect("same /64");
        assert_eq!(k.wait, Duration::from_millis(450));
        assert_eq!(k.slowest, Duration::from_millis(100));
        t.lost(ip("fd00:18:1::2"));
        let k = t.knowledge(ip("fd00:18:1::5")).expect("known");
        assert_eq!(k.attempts, SILENT_ATTEMPTS_LOSSY);
    }
}
