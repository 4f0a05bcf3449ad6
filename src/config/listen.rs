//! `mssp-check listen`: the command line validated into the responder's [`ListenConfig`].

use super::{load_profiles, parse_duration_long, role_of};
use crate::cli::ListenArgs;
use crate::error::UsageError;
use crate::responder::ListenConfig;

/// Validates `mssp-check listen …`.
///
/// # Errors
/// A bad duration, a zero limit, an empty token or an invalid profiles directory.
pub fn validate_listen(args: &ListenArgs) -> Result<ListenConfig, UsageError> {
    let usage = |m: String| UsageError::new(m);
    let profiles = load_profiles(args.profiles.as_ref())?;
    let mut cfg = ListenConfig::new(role_of(args.role), profiles);
    if let Some(b) = args.bind {
        cfg.bind = b;
    }
    cfg.port_offset = args.port_offset;
    cfg.identity = args.cert.clone().zip(args.key.clone());
    cfg.duration =
        parse_duration_long(&args.duration).map_err(|e| usage(format!("--duration {e}")))?;
    if args.max_connections == 0 || args.max_bytes == 0 {
        return Err(usage(
            "--max-connections and --max-bytes must be at least 1".into(),
        ));
    }
    cfg.max_connections = args.max_connections;
    cfg.max_bytes = args.max_bytes;
    cfg.token = match args.token.as_deref() {
        Some("") => return Err(usage("--token is empty".into())),
        t => t.map(|t| t.as_bytes().to_vec()),
    };
    Ok(cfg)
}
