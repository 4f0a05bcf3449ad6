//! Exit codes (DESIGN §4), documented in `--help` and the README, and the monitoring-plugin
//! codes that `--format nagios` uses instead.

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every required path is ok.
    Ok,
    /// A required path failed (or, with `--strict`, a warning).
    Failed,
    /// Bad input.
    Usage,
    /// The tool itself failed.
    Internal,
    /// Stopped by an interrupt (Ctrl-C, SIGINT, Ctrl-Break): 128 + SIGINT, as shells report it.
    Interrupted,
    /// Stopped by SIGTERM (what `timeout`, systemd and CI runners send) or by closing the
    /// Windows console: 128 + SIGTERM.
    Terminated,
    /// `--format nagios`: the state a monitoring plugin reports.
    Plugin(PluginState),
}

/// The states of the monitoring-plugin conventions that Nagios, Icinga, Checkmk and PRTG
/// read (<https://www.monitoring-plugins.org/doc/guidelines.html#AEN78>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl PluginState {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            PluginState::Ok => "OK",
            PluginState::Warning => "WARNING",
            PluginState::Critical => "CRITICAL",
            PluginState::Unknown => "UNKNOWN",
        }
    }
}

impl Exit {
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Internal => 3,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
            Exit::Plugin(s) => s as u8,
        }
    }
}
