//! TCP connect that confirms silence: a port is called filtered only after several
//! independent attempts (fresh sockets, not only the kernel's SYN retransmissions) all went
//! unanswered, because one lost SYN or SYN-ACK must not flip a verdict. Within the step
//! timeout the attempts are spread evenly; once hosts behind the same route have answered
//! ([`RouteTimes`]), the attempts come faster and silence is called as soon as enough of them
//! have each waited several round trips.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::connector::Connector;
use super::rtt::RouteTimes;
use super::tcp::classify;
use crate::observation::{ConnectFailure, ConnectTries as Tries};

/// At most this many attempts per address; also what the open-files limit is sized for.
pub const MAX_ATTEMPTS: u32 = 10;
/// Without anything known about the route, attempts start this many times per timeout.
const SPREAD: u32 = 4;
/// Silence is not called early before this. Elsewhere: the kernel's first SYN
/// retransmission (1 s) and a margin, because an ICMP error that the kernel holds as "soft"
/// reaches the socket only then. On Linux the connector asks for a soft error at once
/// (`connector::connect_seeing_soft_errors`), so there is nothing to wait for.
const FIRST_RETRANSMIT: Duration = if cfg!(target_os = "linux") {
    Duration::ZERO
} else {
    Duration::from_millis(1100)
};
/// How often an attempt without route knowledge looks whether the route has become known.
const RECHECK: Duration = Duration::from_millis(50);

/// A connection, or why there is none, with the attempts that were made.
pub type Connected<S> =
    Result<(SocketAddr, S, Duration, Tries), Vec<(SocketAddr, ConnectFailure, Tries)>>;

/// Connects to the first of `addrs` that answers, each address with its own independent
/// attempts, all within `timeout`. `early`: the connector is plain TCP, whose SYN-ACK comes
/// from the far end's kernel in one round trip, so route times apply (not to a proxy).
///
/// # Errors
/// Every address's failure, in the order of `addrs`, when none connected.
pub async fn connect<C: Connector>(
    connector: &Arc<C>,
    addrs: &[SocketAddr],
    timeout: Duration,
    routes: &Arc<RouteTimes>,
    early: bool,
) -> Connected<C::Stream> {
    let started = Instant::now();
    let mut set = JoinSet::new();
    for (i, &addr) in addrs.iter().enumerate() {
        let c = Arc::clone(connector);
        let routes = Arc::clone(routes);
        set.spawn(async move {
            (
                i,
                addr,
                one_address(&c, addr, timeout, &routes, early).await,
            )
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, addr, r) = match joined {
            Ok(done) => done,
            // A bug, not a network result: the path's task reports it.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => continue,
        };
        match r {
            Ok((stream, tries)) => return Ok((addr, stream, started.elapsed(), tries)),
            Err((f, tries)) => failures.push((i, addr, f, tries)),
        }
    }
    failures.sort_by_key(|f| f.0);
    Err(failures.into_iter().map(|(_, a, f, t)| (a, f, t)).collect())
}

/// An attempt's end: when it started, and what the OS said.
type AttemptEnd<S> = (Instant, io::Result<S>);

async fn one_address<C: Connector>(
    connector: &Arc<C>,
    addr: SocketAddr,
    timeout: Duration,
    routes: &RouteTimes,
    early: bool,
) -> Result<(C::Stream, Tries), (ConnectFailure, Tries)> {
    let ip: IpAddr = addr.ip();
    let start = Instant::now();
    let end = start + timeout;
    let mut set: JoinSet<AttemptEnd<C::Stream>> = JoinSet::new();
    let mut launched: Vec<Instant> = Vec::new();
    let launch = |set: &mut JoinSet<AttemptEnd<C::Stream>>, launched: &mut Vec<Instant>| {
        let c = Arc::clone(connector);
        let at = Instant::now();
        launched.push(at);
        set.spawn(async move { (at, c.connect(addr).await) });
    };
    launch(&mut set, &mut launched);
    let tries = |launched: &[Instant], early: Option<Duration>| Tries {
        attempts: u32::try_from(launched.len()).unwrap_or(u32::MAX),
        waited: start.elapsed(),
        early,
    };
    loop {
        let known = if early { routes.knowledge(ip) } else { None };
        let last = launched.last().copied().unwrap_or(start);
        let gap = known.map_or(timeout / SPREAD, |k| k.wait / 2);
        // Without route knowledge, SPREAD attempts over the timeout; with it, as many as
        // silence needs, faster.
        let wanted = known
            .map_or(SPREAD, |k| k.attempts.max(SPREAD))
            .min(MAX_ATTEMPTS);
        let next_launch = (launched.len() < wanted as usize).then_some(last + gap);
        // Silence is called early once enough attempts have each waited long enough: the
        // youngest attempt decides, because every older one has waited longer.
        // ... and, where the connector cannot ask for soft ICMP errors, never before the
        // first attempt has outlived one kernel SYN retransmission: an "administratively
        // prohibited" reaches a connecting socket only then, and that is `unreachable`.
        let early_end = known
            .filter(|k| launched.len() >= k.attempts as usize)
            .map(|k| ((last + k.wait).max(start + FIRST_RETRANSMIT), k.slowest));
        let give_up = early_end.map_or(end, |(t, _)| t.min(end));
        // Until the route is known, look again soon: other hosts' answers may arrive at any
        // moment and make the next attempts come faster.
        let recheck = if early && known.is_none() {
            (Instant::now() + RECHECK).min(give_up)
        } else {
            give_up
        };
        tokio::select! {
            joined = set.join_next(), if !set.is_empty() => {
                let (at, r) = match joined {
                    Some(Ok(done)) => done,
                    Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    _ => continue,
                };
                match r {
                    Ok(stream) => {
                        let took = at.elapsed();
                        if early {
                            routes.answered(ip, took);
                            // An older attempt went unanswered longer than this one took
                            // to connect: a SYN or SYN-ACK was lost on the way.
                            let oldest = launched.first().copied().unwrap_or(at);
                            if at > oldest && at.duration_since(oldest) > crate::probe::rtt::wait_for(took) {
                                routes.lost(ip);
                            }
                        }
                        return Ok((stream, tries(&launched, None)));
                    }
                    Err(e) => {
                        let f = classify(&e);
                        // The OS gave up on one attempt's SYNs: that is silence, not an answer.
                        if f == ConnectFailure::TimedOut {
                            continue;
                        }
                        if early && matches!(f, ConnectFailure::Refused | ConnectFailure::ResetAfterAccept | ConnectFailure::Unreachable { .. }) {
                            routes.answered(ip, at.elapsed());
                        }
                        return Err((f, tries(&launched, None)));
                    }
                }
            }
            () = tokio::time::sleep_until(next_launch.unwrap_or(end)), if next_launch.is_some_and(|t| t < give_up) => {
                launch(&mut set, &mut launched);
            }
            () = tokio::time::sleep_until(recheck), if recheck < give_up => {}
            () = tokio::time::sleep_until(give_up) => {
                let called_early = early_end.filter(|(t, _)| *t < end).map(|(_, slowest)| slowest);
                return Err((ConnectFailure::TimedOut, tries(&launched, called_early)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A connector whose first `lose` attempts hang (lost SYNs), then answers with `then`.
    struct Lossy {
        lose: u32,
        calls: AtomicU32,
        then: fn() -> io::Result<tokio::io::DuplexStream>,
    }

    impl Connector for Lossy {
        type Stream = tokio::io::DuplexStream;
        fn connect(
            &self,
            _addr: SocketAddr,
        ) -> impl Future<Output = io::Result<Self::Stream>> + Send {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let lose = n < self.lose;
            let then = self.then;
            async move {
                if lose {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                then()
            }
        }
    }

    #[allow(clippy::unnecessary_wraps)] // the shape of `Lossy::then`
    fn open() -> io::Result<tokio::io::DuplexStream> {
        Ok(tokio::io::duplex(64).0)
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:8472".parse().expect("addr")
    }

    fn lossy(lose: u32) -> Arc<Lossy> {
        Arc::new(Lossy {
            lose,
            calls: AtomicU32::new(0),
            then: open,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_first_attempt_does_not_make_a_drop() {
        let c = lossy(2);
        let routes = Arc::new(RouteTimes::default());
        let r = connect(&c, &[addr()], Duration::from_secs(2), &routes, true).await;
        let (_, _, took, tries) = r.expect("the third attempt connects");
        assert_eq!(tries.attempts, 3);
        assert!(
            took >= Duration::from_secs(1),
            "attempts every timeout/4: {took:?}"
        );
        assert!(
            routes.knowledge(addr().ip()).is_some(),
            "its answer teaches the route"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn silence_without_route_knowledge_lasts_the_timeout() {
        let c = lossy(u32::MAX);
        let routes = Arc::new(RouteTimes::default());
        let t = Instant::now();
        let r = connect(&c, &[addr()], Duration::from_secs(2), &routes, true).await;
        let Err(fails) = r else { panic!("silent") };
        assert_eq!(fails[0].1, ConnectFailure::TimedOut);
        assert_eq!(fails[0].2.attempts, SPREAD);
        assert_eq!(fails[0].2.early, None);
        assert_eq!(t.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_on_a_known_route_is_called_after_several_attempts() {
        let c = lossy(u32::MAX);
        let routes = Arc::new(RouteTimes::default());
        routes.answered("127.0.0.9".parse().expect("ip"), Duration::from_millis(2));
        let t = Instant::now();
        let r = connect(&c, &[addr()], Duration::from_secs(5), &routes, true).await;
        let Err(fails) = r else { panic!("silent") };
        let tries = fails[0].2;
        assert_eq!(tries.attempts, crate::probe::rtt::SILENT_ATTEMPTS);
        assert_eq!(tries.early, Some(Duration::from_millis(2)));
        // Five attempts half a wait apart, the last waiting a whole wait (3 × 150 ms), but
        // (where soft ICMP errors cannot be asked for) not before the first attempt has seen
        // one kernel SYN retransmission.
        assert_eq!(
            t.elapsed(),
            Duration::from_millis(450).max(FIRST_RETRANSMIT)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn route_knowledge_that_arrives_while_waiting_is_used() {
        let c = lossy(u32::MAX);
        let routes = Arc::new(RouteTimes::default());
        let learn = Arc::clone(&routes);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(120)).await;
            learn.answered("127.0.0.9".parse().expect("ip"), Duration::from_millis(2));
        });
        let t = Instant::now();
        let r = connect(&c, &[addr()], Duration::from_secs(5), &routes, true).await;
        let Err(fails) = r else { panic!("silent") };
        assert_eq!(fails[0].2.attempts, crate::probe::rtt::SILENT_ATTEMPTS);
        assert!(fails[0].2.early.is_some());
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_proxy_gets_no_early_call() {
        let c = lossy(u32::MAX);
        let routes = Arc::new(RouteTimes::default());
        routes.answered(addr().ip(), Duration::from_millis(2));
        let t = Instant::now();
        let r = connect(&c, &[addr()], Duration::from_secs(2), &routes, false).await;
        assert!(r.is_err());
        assert_eq!(t.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn loss_seen_on_a_route_asks_for_more_attempts() {
        let c = lossy(3);
        let routes = Arc::new(RouteTimes::default());
        routes.answered(addr().ip(), Duration::from_millis(2));
        let r = connect(&c, &[addr()], Duration::from_secs(5), &routes, true).await;
        assert_eq!(r.expect("fourth attempt").3.attempts, 4);
        let k = routes.knowledge(addr().ip()).expect("known");
        assert_eq!(k.attempts, crate::probe::rtt::SILENT_ATTEMPTS_LOSSY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_is_an_answer_at_once() {
        let c = Arc::new(Lossy {
            lose: 0,
            calls: AtomicU32::new(0),
            then: || Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
        });
        let routes = Arc::new(RouteTimes::default());
        let r = connect(&c, &[addr()], Duration::from_secs(5), &routes, true).await;
        let Err(fails) = r else { panic!("refused") };
        assert_eq!(fails[0].1, ConnectFailure::Refused);
        assert_eq!(fails[0].2.attempts, 1);
        assert!(routes.knowledge(addr().ip()).is_some());
    }
}
