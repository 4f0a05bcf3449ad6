//! The small value syntaxes of the command line: durations and a DNS server's address.

use std::net::{IpAddr, SocketAddr};

use super::{Mode, Role};
use crate::cli::{ModeArg, RoleArg};
use std::time::Duration;

/// `5`, `5s`, `800ms`, `1.5s`, `2m`: a probe timeout, 1 ms to 10 min.
///
/// # Errors
/// A message naming the input.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_bounded(text, 600.0, "1ms to 10m")
}

/// A duration for `listen --duration`: the same forms and `h`, up to 24 hours.
///
/// # Errors
/// A message naming the input.
pub fn parse_duration_long(text: &str) -> Result<Duration, String> {
    parse_bounded(text, 86_400.0, "1ms to 24h")
}

fn parse_bounded(text: &str, max_secs: f64, range: &str) -> Result<Duration, String> {
    let shown = crate::sanitize::echo(text);
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{shown}' is not a duration; expected e.g. 5s, 800ms, 2m"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "'{shown}': unknown unit '{}'; expected ms, s, m or h",
                crate::sanitize::echo(unit)
            ))
        }
    };
    if !(0.001..=max_secs).contains(&secs) {
        return Err(format!("'{shown}' is out of range; expected {range}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `IP` or `IP:PORT` (port 53 by default) of `--dns-server`.
///
/// # Errors
/// The text, and what was expected.
pub fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(sa);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!(
                "'{}' is not an IP address; expected IP or IP:port",
                crate::sanitize::echo(text)
            )
        })
}

/// The command line's role, as the profiles name it.
#[must_use]
pub fn role_of(r: RoleArg) -> Role {
    match r {
        RoleArg::Server => Role::Server,
        RoleArg::Mgmt => Role::Mgmt,
        RoleArg::Ih => Role::Ih,
        RoleArg::Cas => Role::Cas,
        RoleArg::Adm => Role::Adm,
        RoleArg::Client => Role::Client,
    }
}

#[must_use]
pub fn mode_of(m: ModeArg) -> Mode {
    match m {
        ModeArg::Single => Mode::Single,
        ModeArg::Multi => Mode::Multi,
    }
}
