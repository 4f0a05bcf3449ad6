//! Wiring: config → plan → DNS → probes → verdicts → report. Opens no socket itself and
//! formats nothing itself.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::{ColorArg, Format, ProfilesArgs};
use crate::config::{self, RunConfig};
use crate::config::{Host, Target};
use crate::error::{RunError, UsageError};
use crate::exit::Exit;
use crate::plan;
use crate::probe::connector::{Connector, TcpConnector};
use crate::probe::dns::Dns;
use crate::probe::tls::TlsContext;
use crate::probe::ProbeContext;
use crate::progress::Progress;
use crate::report::{self, Meta, Report, Style};
use crate::runner;
use crate::stop::Stop;
use crate::verdict::{self, Context};

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
    check_with_progress(
        cfg,
        connector,
        &Stop::from(cancel),
        &Arc::new(Progress::default()),
    )
    .await
}

/// [`check_with`], counting finished probes into `progress`; `stop` ends it early.
///
/// # Errors
/// Setup failures only: bad `--public-ca`, no TLS configuration.
pub async fn check_with_progress<C: Connector>(
    cfg: &RunConfig,
    connector: C,
    stop: &Stop,
    progress: &Arc<Progress>,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let mut notes = Vec::new();
    let tls = TlsContext::new(&cfg.public_ca).map_err(|e| {
        if e.is_usage() {
            RunError::Usage(UsageError::new(e.to_string()))
        } else {
            RunError::Internal(e.to_string())
        }
    })?;
    notes.extend(tls.notes.iter().cloned());
    let (concurrency, note) = runner::fit_concurrency(cfg.concurrency);
    notes.extend(note);

    let judge = Context {
        role_label: cfg.role.label(),
        hostname: cfg.site_name.clone().unwrap_or_else(hostname),
        timeout: cfg.timeout,
        pins: cfg.pins.clone(),
        signatures: cfg.signatures.clone(),
        token: cfg.token.as_ref().map(|t| t.0.clone()),
        expiry: verdict::Expiry::from_now(cfg.expiry_warning_days),
    };
    let ctx = Arc::new(ProbeContext {
        connector: Arc::new(connector),
        tls: Arc::new(tls),
        timeout: cfg.timeout,
        token: cfg.token.as_ref().map(|t| t.0.clone()),
        progress: Arc::clone(progress),
        routes: Arc::default(),
    });
    let mut run = runner::Run::new(
        Arc::clone(&ctx),
        runner::Names::new(Dns::new(cfg.dns_server, cfg.timeout)),
        judge.clone(),
        concurrency,
    );
    run.canary_port = cfg.canary_port;
    run.canary_always = cfg.canary_always;
    run.all_addresses = cfg.all_addresses;
    let planned = plan::plan(cfg);
    if let Some(proxy) = &cfg.proxy {
        if planned
            .iter()
            .any(|p| p.path.target == Target::Mailstore && p.host.is_some())
        {
            notes.push(format!(
                "proxy {} (from {}): my.mailstore.com is checked directly and through it{}",
                proxy.url(),
                proxy.source,
                if proxy.had_credentials {
                    " (the credentials in the setting are not sent)"
                } else {
                    ""
                }
            ));
            run.proxy = Some(proxy.clone());
        }
    }
    let run = Arc::new(run);
    // Every path at once, and this machine's own inbound ports alongside.
    let inbound = async {
        if cfg.check_inbound {
            inbound(cfg, ctx.connector.as_ref()).await
        } else {
            Vec::new()
        }
    };
    let (observations, inbound) = tokio::join!(
        runner::run(Arc::clone(&run), planned, stop.token().clone()),
        inbound
    );
    notes.extend(run.names.notes());
    let stopped = stop.why();
    if let Some(why) = stopped {
        notes.push(format!(
            "{}: the paths that had not finished are reported as cancelled",
            why.label()
        ));
    }
    let judged = verdict::judge_run(observations, &judge);
    notes.extend(judged.notes);
    let meta = Meta {
        version: env!("CARGO_PKG_VERSION"),
        role: cfg.role,
        roles: cfg.roles(),
        os_hostname: hostname(),
        addresses: cfg.addresses.clone(),
        modes: cfg.modes.clone(),
        hostname: judge.hostname.clone(),
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        strict: cfg.strict,
        stopped,
        notes,
        inbound,
    };
    Ok(Report::build(meta, judged.rows))
}

/// The inbound ports of the roles, as the profiles name them: do they listen here? The
/// connector asks this machine.
async fn inbound(cfg: &RunConfig, here: &impl Connector) -> Vec<crate::probe::listening::Inbound> {
    let mine: Vec<_> = cfg.roles().iter().filter_map(|r| r.as_target()).collect();
    if mine.is_empty() {
        return Vec::new();
    }
    let mut ports: Vec<u16> = cfg
        .profiles
        .all()
        .iter()
        .filter(|p| mine.contains(&p.target) && cfg.modes.contains(&p.mode))
        .map(|p| p.port.saturating_add(cfg.port_offset))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let mut out = Vec::new();
    for port in ports {
        out.push(crate::probe::listening::check(here, port).await);
    }
    out
}

/// The table's style on this terminal: colour by `--color` (and `NO_COLOR`), width when
/// stdout is a terminal.
#[must_use]
pub fn table_style(color: ColorArg) -> Style {
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
    Style::Table {
        color,
        width,
        view: report::TableView::default(),
    }
}

/// `mssp-check [check] --role R …`: probes, renders, and returns the exit code.
///
/// # Errors
/// Setup failures and write errors.
pub async fn check(cfg: &RunConfig, out: &mut dyn Write, stop: &Stop) -> Result<Exit, RunError> {
    let progress = Arc::new(Progress::default());
    let done = CancellationToken::new();
    let ticker = crate::progress::show(Arc::clone(&progress), done.clone());
    let report = check_with_progress(cfg, TcpConnector, stop, &progress).await;
    done.cancel();
    if let Some(t) = ticker {
        let _ = t.await;
    }
    let report = report?;
    let style = match cfg.format {
        Format::Table => match table_style(cfg.color) {
            Style::Table { color, width, .. } => Style::Table {
                color,
                width,
                view: report::TableView {
                    quiet: cfg.quiet,
                    phases: cfg.phases,
                },
            },
            other => other,
        },
        Format::Json => Style::Json,
        Format::Junit => Style::Junit,
        Format::Markdown => Style::Markdown,
        Format::Prometheus => Style::Prometheus,
        Format::Nagios => Style::Nagios,
    };
    report::render(&report, style, out)
        .map_err(|e| RunError::Internal(format!("writing the report: {e}")))?;
    Ok(report.exit_in(style))
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
        crate::cli::ListFormat::Json => report::profiles::render_json(&paths, out),
        crate::cli::ListFormat::Table => {
            let width = if std::io::stdout().is_terminal() {
                comfy_table::Table::new().width()
            } else {
                None
            };
            report::profiles::render_table(&paths, width, out)
        }
    };
    match r {
        Err(e) if !report::reader_gone(&e) => {
            Err(RunError::Internal(format!("writing the list: {e}")))
        }
        _ => Ok(Exit::Ok),
    }
}

/// `mssp-check firewall --role R`: resolves the peers and prints the inbound rules.
///
/// # Errors
/// Bad input (see [`config::validate_firewall`]; a peer that does not resolve, a role without
/// inbound ports) and write errors.
pub async fn firewall(
    args: &crate::cli::FirewallArgs,
    out: &mut dyn Write,
) -> Result<Exit, RunError> {
    use crate::firewall::{self, Sources};
    let usage = |m: String| RunError::Usage(UsageError::new(m));
    let cfg = config::validate_firewall(args)?;
    let dns = Dns::new(cfg.dns_server, std::time::Duration::from_secs(5));
    let mut sources = Sources {
        admin_nets: cfg.admin_nets.clone(),
        ..Sources::default()
    };
    for peers in &cfg.peers {
        let mut ips = Vec::new();
        for h in &peers.hosts {
            match &h.host {
                Host::Ip(ip) => ips.push(*ip),
                Host::Name(n) => {
                    let found = dns.resolve_like_os(n).await.0.map_err(|f| {
                        usage(format!(
                            "{} {n}: the name does not resolve ({}); give an address",
                            peers.flag,
                            f.short()
                        ))
                    })?;
                    ips.extend(found);
                }
            }
        }
        sources.peers.insert(peers.role, ips);
    }
    let rules = firewall::inbound_rules(&cfg.profiles, cfg.role, &sources).map_err(usage)?;
    match firewall::render(&rules, cfg.role, cfg.format, out) {
        Err(e) if !report::reader_gone(&e) => {
            Err(RunError::Internal(format!("writing the rules: {e}")))
        }
        _ => Ok(Exit::Ok),
    }
}

/// `mssp-check listen --role R`: the responder, until `--duration` or Ctrl-C. Its banner and
/// one line per connection go to stdout.
///
/// # Errors
/// Bad input (exit 2, see [`config::validate_listen`]; a role without inbound ports, unusable
/// --cert/--key); no port bound (exit 3).
pub async fn listen(
    args: &crate::cli::ListenArgs,
    cancel: CancellationToken,
) -> Result<Exit, RunError> {
    let cfg = config::validate_listen(args)?;
    let mut log = std::io::stdout();
    match crate::responder::run(&cfg, cancel, &mut log).await {
        Ok(_) => Ok(Exit::Ok),
        Err(e) if e.is_usage() => Err(RunError::Usage(UsageError::new(e.to_string()))),
        Err(e) => Err(RunError::Internal(e.to_string())),
    }
}

/// `mssp-check explain [WORD]`: one entry, or every word with its meaning.
///
/// # Errors
/// An unknown word (exit 2, listing the known ones); write errors.
pub fn explain(args: &crate::cli::ExplainArgs, out: &mut dyn Write) -> Result<Exit, RunError> {
    use crate::explain;
    let r = match args.word.as_deref() {
        Some(word) => {
            let Some(entry) = explain::lookup(word) else {
                return Err(RunError::Usage(UsageError::new(format!(
                    "explain {}: not a verdict or finding; the known ones are {}",
                    crate::sanitize::printable(word, 60),
                    explain::known()
                ))));
            };
            explain::render(&entry, out)
        }
        None => explain::all()
            .iter()
            .try_for_each(|e| writeln!(out, "{:<22} {:<8} {}", e.word, e.class, e.means)),
    };
    match r {
        Err(e) if !report::reader_gone(&e) => {
            Err(RunError::Internal(format!("writing the explanation: {e}")))
        }
        _ => Ok(Exit::Ok),
    }
}

/// `mssp-check report FILE|DIR …`: the reports of many hosts merged into one view.
///
/// # Errors
/// A file that is not a report, a malformed site file (exit 2); write errors.
pub fn report(args: &crate::cli::ReportArgs, out: &mut dyn Write) -> Result<Exit, RunError> {
    use crate::cli::DeploymentFormat;
    use crate::deployment::Style as D;
    let style = match args.format {
        DeploymentFormat::Table => match table_style(args.color) {
            Style::Table { color, width, .. } => D::Table { color, width },
            _ => D::Table {
                color: false,
                width: None,
            },
        },
        DeploymentFormat::Markdown => D::Markdown,
        DeploymentFormat::Json => D::Json,
        DeploymentFormat::Junit => D::Junit,
        DeploymentFormat::Html => D::Html,
    };
    crate::deployment::run(args, style, out)
}
