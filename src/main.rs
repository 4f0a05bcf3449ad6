//! The binary: parse, build the runtime, run, map to an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mssp_check::cli::{Cli, Command, Format};
use mssp_check::error::RunError;
use mssp_check::exit::{Exit, PluginState};
use mssp_check::report::nagios;
use mssp_check::stop::{Stop, Why};
use mssp_check::{app, config, demo, shell};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, asks_for_nagios(std::env::args())),
    };
    let nagios = match &cli.command {
        Some(Command::Check(a)) => a.format == Format::Nagios,
        None => cli.check.format == Format::Nagios,
        Some(_) => false,
    };
    let verbose = match &cli.command {
        Some(Command::Check(a)) => a.verbose,
        None => cli.check.verbose,
        Some(_) => 0,
    };
    init_logging(verbose);
    let code = match run(cli) {
        Ok(exit) => exit,
        // A monitoring system reads stdout and the exit code: bad input and failures of the
        // tool are UNKNOWN there, said on stdout.
        Err(e) if nagios => {
            let message = match &e {
                RunError::Usage(u) => u.to_string(),
                other => format!("internal error: {other}"),
            };
            println!("{}", nagios::unknown_line(&message));
            eprintln!("mssp-check: error: {message}");
            Exit::Plugin(PluginState::Unknown)
        }
        Err(RunError::Usage(e)) => {
            eprintln!("mssp-check: error: {e}");
            Exit::Usage
        }
        Err(e) => {
            eprintln!("mssp-check: internal error: {e}");
            Exit::Internal
        }
    };
    ExitCode::from(code.code())
}

fn run(cli: Cli) -> Result<Exit, RunError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Some(Command::Profiles(args)) => app::profiles(&args, &mut out),
        Some(Command::Check(args)) => check(&args, &mut out),
        Some(Command::Firewall(args)) => block_on(app::firewall(&args, &mut out)),
        Some(Command::Listen(args)) => block_on(async {
            let stop = signals();
            app::listen(&args, stop.token().clone()).await
        }),
        Some(Command::Demo(args)) => block_on(demo::run(&args, &mut out)),
        Some(Command::Report(args)) => app::report(&args, &mut out),
        Some(Command::Explain(args)) => app::explain(&args, &mut out),
        Some(Command::Completions(args)) => shell::completions(args.shell, &mut out),
        Some(Command::Man) => shell::man(&mut out),
        None => check(&cli.check, &mut out),
    }
}

fn check(args: &mssp_check::cli::CheckArgs, out: &mut dyn Write) -> Result<Exit, RunError> {
    // `--site` without `--role`: this machine finds itself in the site file first.
    let cfg = match (&args.role, &args.site) {
        (None, Some(site)) => {
            let found = discover(site, args)?;
            config::validate_check_found(args, &found)?
        }
        _ => config::validate_check(args)?,
    };
    block_on(async {
        let stop = signals();
        app::check(&cfg, out, &stop).await
    })
}

/// What stops a run: Ctrl-C (and Ctrl-Break) as an interrupt, SIGTERM (and closing the
/// Windows console) as a termination. Call inside the runtime.
fn signals() -> Stop {
    let stop = Stop::new();
    let on = |why: Why, stop: Stop| {
        eprintln!("mssp-check: {}; reporting what finished", why.label());
        stop.stop(why);
    };
    let s = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on(Why::Interrupt, s);
        }
    });
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            let s = stop.clone();
            tokio::spawn(async move {
                if term.recv().await.is_some() {
                    on(Why::Terminate, s);
                }
            });
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_close};
        if let Ok(mut brk) = ctrl_break() {
            let s = stop.clone();
            tokio::spawn(async move {
                if brk.recv().await.is_some() {
                    on(Why::Interrupt, s);
                }
            });
        }
        if let Ok(mut close) = ctrl_close() {
            let s = stop.clone();
            tokio::spawn(async move {
                if close.recv().await.is_some() {
                    on(Why::Terminate, s);
                }
            });
        }
    }
    stop
}

/// This machine's roles in the site file (names are looked up; nothing is probed).
fn discover(
    site: &std::path::Path,
    args: &mssp_check::cli::CheckArgs,
) -> Result<config::Found, RunError> {
    let file = config::site::Site::load(site)
        .map_err(|e| RunError::Usage(mssp_check::error::UsageError::new(format!("--site {e}"))))?;
    let dns_server = args
        .dns_server
        .as_deref()
        .or(file.options.dns_server.as_deref())
        .map(config::parse_dns_server)
        .transpose()
        .map_err(|e| {
            RunError::Usage(mssp_check::error::UsageError::new(format!(
                "--dns-server {e}"
            )))
        })?;
    let dns = mssp_check::probe::dns::Dns::new(dns_server, mssp_check::discover::timeout(&file));
    let rt = runtime()?;
    let found = rt.block_on(mssp_check::discover::find(
        &file,
        &site.display().to_string(),
        &app::hostname(),
        &dns,
        &mssp_check::probe::connector::TcpConnector,
    ));
    rt.shutdown_background();
    Ok(found?)
}

/// Runs `f` on a new runtime and leaves without waiting for blocking threads: a lookup by
/// the OS resolver (`getaddrinfo`) that outlived its timeout must not hold the process after
/// the report is out.
fn block_on<F: std::future::Future<Output = Result<Exit, RunError>>>(
    f: F,
) -> Result<Exit, RunError> {
    let rt = runtime()?;
    let out = rt.block_on(f);
    rt.shutdown_background();
    out
}

fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("cannot start the async runtime: {e}")))
}

/// `--format nagios` among arguments that did not parse: then the error is UNKNOWN too.
fn asks_for_nagios(args: impl Iterator<Item = String>) -> bool {
    let mut previous = String::new();
    for a in args {
        if a == "--format=nagios" || (previous == "--format" && a == "nagios") {
            return true;
        }
        previous = a;
    }
    false
}

/// Clap's errors, as one line (help and version print as usual); with `--format nagios`
/// also as the UNKNOWN line on stdout.
fn usage_error(e: &clap::Error, nagios: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let mut parts = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.trim_start_matches("error: ").to_string());
    // A huge argument is cut where clap repeats it (issue 13); clap's own lines stay whole.
    let cut = |l: String| {
        if l.chars().count() > 400 {
            format!(
                "{} … ({} bytes)",
                mssp_check::sanitize::printable(&l, 400),
                l.len()
            )
        } else {
            l
        }
    };
    let first = parts.next().map_or_else(|| "invalid arguments".into(), cut);
    let rest: Vec<String> = parts.map(cut).collect();
    let message = if rest.is_empty() {
        first
    } else {
        format!("{first} {}", rest.join(" "))
    };
    eprintln!("mssp-check: error: {message}");
    if nagios {
        println!("{}", nagios::unknown_line(&message));
        return ExitCode::from(Exit::Plugin(PluginState::Unknown).code());
    }
    ExitCode::from(Exit::Usage.code())
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MSSP_CHECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("mssp_check={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}
