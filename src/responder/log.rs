//! What the responder writes for the admin: the banner (role, addresses, certificate
//! fingerprints, end time), one line per connection, and the closing summary. Peer-supplied
//! text is sanitised here, whatever the caller did.

use std::io::Write;
use std::time::Duration;

use crate::sanitize;

use super::accept::Event;
use super::conn::Answer;
use super::identity::Identity;
use super::{ListenConfig, ListenSummary, PortSummary, StopReason};

/// Longest result text in a log line.
const LOG_RESULT: usize = 400;

/// Now, UTC, RFC 3339, with or without milliseconds.
fn now(with_millis: bool) -> String {
    let t = time::OffsetDateTime::now_utc();
    let f = if with_millis {
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        )
    } else {
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")
    };
    t.format(f).unwrap_or_default()
}

/// The time `after` from now, UTC, RFC 3339.
fn end_time(after: Duration) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::Duration::try_from(after)
        .ok()
        .and_then(|d| time::OffsetDateTime::now_utc().checked_add(d))
        .and_then(|t| t.format(f).ok())
        .unwrap_or_else(|| "the far future".into())
}

/// `<time> <peer> -> port <port> (<probe>): <result>`.
pub(super) fn event(log: &mut (dyn Write + Send), e: &Event) {
    let peer = e.peer.map_or_else(|| "-".to_string(), |p| p.to_string());
    let _ = writeln!(
        log,
        "{} {peer} -> port {} ({}): {}",
        now(true),
        e.port,
        e.probe,
        sanitize::printable(&e.result, LOG_RESULT)
    );
}

/// One line for the connections turned away since the last one (none: no line).
pub(super) fn turned_away(log: &mut (dyn Write + Send), n: u64, max: usize) {
    if n == 0 {
        return;
    }
    let _ = writeln!(
        log,
        "{} busy: {n} connection{} turned away, {max} already in flight (--max-connections)",
        now(true),
        if n == 1 { " was" } else { "s were" }
    );
}

/// Role, certificate, addresses (or why not), end time.
pub(super) fn banner(
    log: &mut (dyn Write + Send),
    cfg: &ListenConfig,
    host: &str,
    id: &Identity,
    ports: &[&PortSummary],
) {
    // A failed log write must not stop the responder; a broken pipe is not a failure (STYLE 14).
    let _ = (|| -> std::io::Result<()> {
        writeln!(
            log,
            "mssp-check listen: role {} ({}) on {}, answering firewall checks before go-live",
            cfg.role.label(),
            cfg.role.title(),
            sanitize::printable(host, 64)
        )?;
        let origin = if id.generated {
            "self-signed, generated for this run"
        } else {
            "from --cert"
        };
        writeln!(
            log,
            "certificate {} ({origin})",
            sanitize::printable(&id.subject, 200)
        )?;
        writeln!(log, "  SHA-1 thumbprint  {}", id.sha1_thumbprint)?;
        writeln!(log, "  SHA-256           {}", id.sha256)?;
        for s in ports {
            if let Some(error) = &s.error {
                writeln!(log, "  not listening on {error}")?;
                continue;
            }
            let addrs: Vec<String> = s.addresses.iter().map(ToString::to_string).collect();
            let note = Answer::note(s.probe).map_or(String::new(), |n| format!(" ({n})"));
            writeln!(
                log,
                "  listening on {}  {}{note}",
                addrs.join(", "),
                s.probe
            )?;
        }
        writeln!(
            log,
            "until {} ({}); Ctrl-C stops earlier",
            end_time(cfg.duration),
            sanitize::duration(cfg.duration)
        )
    })();
}

/// Why it stopped, and the connections per port.
pub(super) fn footer(log: &mut (dyn Write + Send), s: &ListenSummary, open: usize) {
    let reason = match s.stopped {
        StopReason::Duration => "duration reached",
        StopReason::Cancelled => "interrupted",
    };
    let per_port: Vec<String> = s
        .ports
        .iter()
        .filter(|p| p.error.is_none())
        .map(|p| format!("{}: {}", p.port, p.connections))
        .collect();
    let refused: u64 = s.ports.iter().map(|p| p.refused).sum();
    let refused = if refused > 0 {
        format!("; {refused} turned away over --max-connections")
    } else {
        String::new()
    };
    let open = if open > 0 {
        format!("; {open} still open were closed")
    } else {
        String::new()
    };
    let n = s.connections();
    let _ = writeln!(
        log,
        "stopped at {} ({reason}): {n} connection{} ({}){refused}{open}",
        now(false),
        if n == 1 { "" } else { "s" },
        per_port.join(", ")
    );
}
