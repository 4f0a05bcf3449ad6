//! Wiring: config → plan → DNS → probes → verdicts → report. Opens no socket itself and
//! formats nothing itself.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::{ColorArg, Format, ProfilesArgs};
use crate::config::{self, RunConfig};
use crate::error::{RunError, UsageError};
use crate::exit::Exit;
use crate::plan;
use crate::probe::connector::{Connector, TcpConnector};
use crate::probe::dns::Dns;
use crate::probe::tls::TlsContext;
use crate::probe::ProbeContext;
use crate::report::{self, Meta, Report, Style};
use crate::runner;
use crate::verdict::Origin;

/// This machine's name, for the report header and hints.
#[must_use]
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Runs a check and returns the report (no rendering). `connector` opens the sockets.
///
/// # Errors
/// Setup failures only: bad `--public-ca`, no TLS configuration.
pub async fn check_with<C: Connector>(
    cfg: &RunConfig,
    connector: C,
    cancel: CancellationToken,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let mut notes = Vec::new();
    let tls = TlsContext::new(&cfg.public_ca).map_err(|e| {
        if e.starts_with("--public-ca") {
            RunError::Usage(UsageError::new(e))
        } else {
            RunError::Internal(e)
        }
    })?;
    notes.extend(tls.notes.iter().cloned());
    let (concurrency, note) = runner::fit_concurrency(cfg.concurrency);
    notes.extend(note);

    let planned = plan::plan(cfg);
    let names = plan::names(&planned);
    let dns = Arc::new(Dns::new(cfg.dns_server, cfg.timeout));
    let answers = tokio::select! {
        a = runner::resolve_all(dns, names) => a,
        () = cancel.cancelled() => Default::default(),
    };
    let (jobs, mut observations) = plan::expand(&planned, &answers, cfg.all_addresses);
    let ctx = Arc::new(ProbeContext {
        connector: Arc::new(connector),
        tls,
        timeout: cfg.timeout,
    });
    observations.extend(runner::run_jobs(ctx, jobs, concurrency, cancel.clone()).await);
    if cancel.is_cancelled() {
        notes.push("interrupted: probes that had not finished are reported as skipped".into());
    }

    let origin = Origin {
        role_label: cfg.role.label(),
        hostname: hostname(),
        timeout: cfg.timeout,
    };
    let meta = Meta {
        version: env!("CARGO_PKG_VERSION"),
        role: cfg.role,
        modes: cfg.modes.clone(),
        hostname: origin.hostname.clone(),
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        strict: cfg.strict,
        notes,
    };
    Ok(Report::build(meta, observations, &origin))
}

fn table_style(color: ColorArg) -> Style {
    let tty = std::io::stdout().is_terminal();
    let color = match color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let width = if tty {
        comfy_table::Table::new().width()
    } else {
        None
    };
    Style::Table { color, width }
}

/// `mssp-check [check] --role R …`: probes, renders, and returns the exit code.
///
/// # Errors
/// Setup failures and write errors.
pub async fn check(
    cfg: &RunConfig,
    out: &mut dyn Write,
    cancel: CancellationToken,
) -> Result<Exit, RunError> {
    let report = check_with(cfg, TcpConnector, cancel).await?;
    let style = match cfg.format {
        Format::Table => table_style(cfg.color),
        Format::Json => Style::Json,
    };
    report::render(&report, style, out)
        .map_err(|e| RunError::Internal(format!("writing the report: {e}")))?;
    Ok(report.exit())
}

/// `mssp-check profiles`.
///
/// # Errors
/// A malformed `--profiles` directory, write errors.
pub fn profiles(args: &ProfilesArgs, out: &mut dyn Write) -> Result<Exit, RunError> {
    let profiles = config::load_profiles(args.profiles.as_ref())?;
    let role = args.role.map(config::role_of);
    let mode = args.mode.map(config::mode_of);
    let paths: Vec<_> = profiles
        .all()
        .iter()
        .filter(|p| role.is_none_or(|r| p.source == r) && mode.is_none_or(|m| p.mode == m))
        .collect();
    let r = match args.format {
        Format::Json => report::profiles::render_json(&paths, out),
        Format::Table => {
            let width = if std::io::stdout().is_terminal() {
                comfy_table::Table::new().width()
            } else {
                None
            };
            report::profiles::render_table(&paths, width, out)
        }
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(RunError::Internal(format!("writing the list: {e}")))
        }
        _ => Ok(Exit::Ok),
    }
}
