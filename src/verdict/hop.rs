//! The hop a verdict is about, in words for reasons and hints: who probes, which host and
//! port, through which proxy.

use super::{Context, Verdict};
use crate::config::profile::CertPolicy;
use crate::config::HostSpec;
use crate::observation::Observation;

/// The hop, in words for hints.
pub(super) struct Hop {
    pub(super) from: String,
    pub(super) host: String,
    pub(super) ip: String,
    pub(super) port: u16,
    pub(super) target_title: &'static str,
    pub(super) timeout_text: String,
    /// How long and how often a silent port was asked: " within 5 s", or, with independent
    /// connect attempts, " (4 connection attempts within 5 s)".
    pub(super) silence_text: String,
    /// Connections that waited for a TLS answer (2: a fresh one raced the first).
    pub(super) tls_connections: u8,
    /// The target was given as an address, so no server name (SNI) was sent.
    pub(super) by_address: bool,
    /// An internal port (847x), where MailStore's own peers talk to each other.
    pub(super) internal: bool,
    /// The HTTP proxy this probe went through (`http://proxy:3128`).
    pub(super) proxy: Option<String>,
}

impl Hop {
    pub(super) fn new(obs: &Observation, origin: &Context) -> Self {
        Self {
            // The path's own source role: a machine may hold several.
            from: format!("{} ({})", origin.hostname, obs.path.source.label()),
            host: obs
                .host
                .as_ref()
                .map_or_else(|| "—".to_string(), HostSpec::display_host),
            ip: obs.address.map(|a| a.ip().to_string()).unwrap_or_default(),
            port: obs.port,
            target_title: obs.path.target.title(),
            timeout_text: format!(" within {}", crate::sanitize::duration(origin.timeout)),
            silence_text: silence(obs, origin),
            tls_connections: obs.tls_connections,
            by_address: obs
                .host
                .as_ref()
                .is_some_and(|h| matches!(h.host, crate::config::Host::Ip(_))),
            internal: obs.path.cert == CertPolicy::Internal,
            proxy: obs.via_proxy.clone(),
        }
    }
    pub(super) fn host_ip(&self) -> String {
        if self.ip.is_empty() || self.ip == self.host {
            self.host.clone()
        } else {
            format!("{} ({})", self.host, self.ip)
        }
    }
}

/// The connect attempts a `filtered` verdict rests on, in words: " within 5 s", or
/// " (4 connection attempts within 5 s)".
fn silence(obs: &Observation, origin: &Context) -> String {
    let d = crate::sanitize::duration;
    match obs.connect_tries {
        Some(t) if t.attempts > 1 => match t.early {
            Some(slowest) => format!(
                " ({} connection attempts in {}; hosts on the same network answer within {})",
                t.attempts,
                d(t.waited),
                d(slowest)
            ),
            None => format!(
                " ({} connection attempts within {})",
                t.attempts,
                d(origin.timeout)
            ),
        },
        _ => format!(" within {}", d(origin.timeout)),
    }
}

pub(super) type Triple = (Verdict, String, Option<String>);
