//! Errors that stop a run before any probe: bad input (exit 2) and setup failures (exit 3).
//! A blocked path is never an error; it is an outcome (see `observation`).

/// Bad input: usage, an unknown role, a malformed host, profile or file. Exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Anything that stops a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("{0}")]
    Usage(#[from] UsageError),
    /// The tool itself could not run (no runtime, no TLS configuration…). Exit code 3.
    #[error("{0}")]
    Internal(String),
}
