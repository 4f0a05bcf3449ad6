//! The small value syntaxes of the command line: durations and a DNS server's address.

use std::net::{IpAddr, SocketAddr};
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
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; expected e.g. 5s, 800ms, 2m"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}'; expected ms, s, m or h"
            ))
        }
    };
    if !(0.001..=max_secs).contains(&secs) {
        return Err(format!("'{text}' is out of range; expected {range}"));
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
        .map_err(|_| format!("'{text}' is not an IP address; expected IP or IP:port"))
}
