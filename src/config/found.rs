//! A check run for a machine found in the site file: every role it holds, and how the site
//! names it.

use std::net::IpAddr;

use super::{validate_check_as, validate_modes, validate_offset, Role, RunConfig};
use crate::cli::CheckArgs;
use crate::error::UsageError;

/// The machine as found in the site file (by `discover`, before any probe): its roles, its
/// name there, and its own addresses that the name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub roles: Vec<Role>,
    pub name: String,
    pub addresses: Vec<IpAddr>,
}

/// Validates a check run for a machine found in the site file: every role it holds.
///
/// # Errors
/// As [`super::validate_check`], for any of the roles.
pub fn validate_check_found(cli: &CheckArgs, found: &Found) -> Result<RunConfig, UsageError> {
    let mut cfg = validate_check_as(cli, found.roles.first().copied())?;
    for &role in found.roles.iter().skip(1) {
        let modes = validate_modes(role, &cfg.targets)?;
        validate_offset(role, &modes, &cfg.profiles, cfg.port_offset)?;
        for m in modes {
            if !cfg.modes.contains(&m) {
                cfg.modes.push(m);
            }
        }
        if role != cfg.role && !cfg.extra_roles.contains(&role) {
            cfg.extra_roles.push(role);
        }
    }
    cfg.site_name = Some(found.name.clone());
    cfg.addresses.clone_from(&found.addresses);
    Ok(cfg)
}
