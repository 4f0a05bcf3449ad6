//! `mssp-check completions SHELL` and `mssp-check man`: generated from the clap definitions
//! in `cli.rs`, so they never drift from the flags the binary accepts.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::RunError;
use crate::exit::Exit;

fn written(r: std::io::Result<()>, what: &str) -> Result<Exit, RunError> {
    match r {
        Err(e) if !crate::report::reader_gone(&e) => {
            Err(RunError::Internal(format!("writing the {what}: {e}")))
        }
        _ => Ok(Exit::Ok),
    }
}

/// Writes the completion script of `shell`.
///
/// # Errors
/// Write errors.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<Exit, RunError> {
    let mut cmd = Cli::command();
    // clap_complete writes through a `Write` it cannot report errors from: buffer, then write.
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mssp-check", &mut buf);
    written(out.write_all(&buf), "completions")
}

/// Writes the manual page (roff), with the exit codes and examples of `--help`.
///
/// # Errors
/// Write errors.
pub fn man(out: &mut dyn Write) -> Result<Exit, RunError> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    let r = clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .and_then(|()| out.write_all(&buf));
    written(r, "manual page")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shell_names_the_subcommands() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            super::completions(*shell, &mut out).expect("written");
            let text = String::from_utf8(out).expect("utf-8");
            for sub in [
                "profiles",
                "firewall",
                "listen",
                "explain",
                "completions",
                "man",
            ] {
                assert!(text.contains(sub), "{shell:?} lacks {sub}");
            }
            assert!(text.contains("expiry-warning"), "{shell:?}");
        }
    }
}
