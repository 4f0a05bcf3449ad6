//! Exit codes (DESIGN §4), documented in `--help` and the README.

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every required path is ok.
    Ok = 0,
    /// A required path failed (or, with `--strict`, a warning).
    Failed = 1,
    /// Bad input.
    Usage = 2,
    /// The tool itself failed.
    Internal = 3,
    /// Stopped by an interrupt (Ctrl-C, SIGINT, Ctrl-Break): 128 + SIGINT, as shells report it.
    Interrupted = 130,
    /// Stopped by SIGTERM (what `timeout`, systemd and CI runners send) or by closing the
    /// Windows console: 128 + SIGTERM.
    Terminated = 143,
}

impl Exit {
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}
