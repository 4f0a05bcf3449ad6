//! `--only PORTS` and `--skip PORTS`: which ports of the role's port tables a run leaves out.

use super::{Mode, Profiles, Role};
use crate::cli::CheckArgs;
use crate::error::UsageError;

/// Which way `--only` / `--skip` filters the ports of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortsFilter {
    Only,
    Skip,
}

/// `--only PORTS` / `--skip PORTS`: ports of the role's tables, separated by commas.
pub(crate) fn validate_ports_filter(
    args: &CheckArgs,
    role: Role,
    modes: &[Mode],
    profiles: &Profiles,
) -> Result<Option<(PortsFilter, Vec<u16>)>, UsageError> {
    let (kind, flag, text) = match (&args.only, &args.skip) {
        (Some(t), _) => (PortsFilter::Only, "--only", t),
        (None, Some(t)) => (PortsFilter::Skip, "--skip", t),
        (None, None) => return Ok(None),
    };
    let mut known: Vec<u16> = profiles
        .all()
        .iter()
        .filter(|p| p.source == role && modes.contains(&p.mode))
        .map(|p| p.port)
        .collect();
    known.sort_unstable();
    known.dedup();
    let known_text = known
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut ports = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let port: u16 = part.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
            UsageError::new(format!(
                "{flag} '{}': not a port; expected ports separated by commas, e.g. {flag} 143,993",
                crate::sanitize::printable(part, 40)
            ))
        })?;
        if !known.contains(&port) {
            return Err(UsageError::new(format!(
                "{flag} {port}: no path of role {} uses port {port}; its ports are {known_text}",
                role.label()
            )));
        }
        ports.push(port);
    }
    if ports.is_empty() {
        return Err(UsageError::new(format!(
            "{flag} '{}': expected ports separated by commas, e.g. {flag} {known_text}",
            crate::sanitize::printable(text, 40)
        )));
    }
    Ok(Some((kind, ports)))
}
