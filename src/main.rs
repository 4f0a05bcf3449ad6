//! The binary: parse, build the runtime, run, map to an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mssp_check::cli::{Cli, Command};
use mssp_check::error::RunError;
use mssp_check::exit::Exit;
use mssp_check::{app, config, demo};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let verbose = match &cli.command {
        Some(Command::Check(a)) => a.verbose,
        None => cli.check.verbose,
        Some(_) => 0,
    };
    init_logging(verbose);
    let code = match run(cli) {
        Ok(exit) => exit,
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
        Some(Command::Firewall(args)) => runtime()?.block_on(app::firewall(&args, &mut out)),
        Some(Command::Listen(args)) => runtime()?.block_on(async {
            let cancel = ctrl_c();
            app::listen(&args, cancel).await
        }),
        Some(Command::Demo(args)) => runtime()?.block_on(demo::run(&args, &mut out)),
        Some(Command::Report(args)) => app::report(&args, &mut out),
        None => check(&cli.check, &mut out),
    }
}

fn check(args: &mssp_check::cli::CheckArgs, out: &mut dyn Write) -> Result<Exit, RunError> {
    let cfg = config::validate_check(args)?;
    runtime()?.block_on(async {
        let cancel = ctrl_c();
        app::check(&cfg, out, cancel).await
    })
}

/// A token that Ctrl-C cancels (call inside the runtime).
fn ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("mssp-check: interrupted; finishing");
            on_ctrl_c.cancel();
        }
    });
    cancel
}

fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("cannot start the async runtime: {e}")))
}

/// Clap's errors, as one line (help and version print as usual).
fn usage_error(e: &clap::Error) -> ExitCode {
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
    let first = parts.next().unwrap_or_else(|| "invalid arguments".into());
    let rest: Vec<String> = parts.collect();
    if rest.is_empty() {
        eprintln!("mssp-check: error: {first}");
    } else {
        eprintln!("mssp-check: error: {first} {}", rest.join(" "));
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
