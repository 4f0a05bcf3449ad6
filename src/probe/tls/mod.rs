//! TLS: the shared client configuration, the handshake, capturing the chain, and judging
//! trust twice — against the public roots and against this machine's trust store.
//!
//! By job: `context` holds the run's configuration and does the handshake; `verify` builds
//! the verifiers and says what can go wrong building them; `failure` puts rustls's errors in
//! an admin's words; `x509` reads one certificate; `tap` keeps the first bytes a server sent.

mod context;
mod failure;
mod tap;
mod verify;
mod x509;

pub use context::TlsContext;
pub use failure::{alert_after_handshake, describe_cert_error, in_words, problem_of};
pub use tap::Tap;
pub use verify::{PublicCaProblem, SetupError};
pub use x509::cert_info;
