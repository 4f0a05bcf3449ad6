//! Sans-IO STARTTLS dialogues: the `Dialogue` contract, the transcript, the failures, the bounded input buffer and the protocol sniffer shared by the IMAP, POP3 and LDAP machines.
//!
//! The machines never touch a socket or a clock. A driver loops on [`Script::poll`]:
//! `Send` → write the bytes; `Recv` → read once and hand *everything* read to
//! [`Script::receive`] (or call [`Script::eof`] on a zero-byte read); `StartTls` → run
//! the TLS handshake on the same stream and call [`Script::tls_established`]; `Done` → stop
//! and read [`Dialogue::outcome`] and [`Dialogue::transcript`].
//!
//! Each protocol implements [`Protocol`] (and [`LineProtocol`] when it is line-based); the
//! contract's shared methods come from the generic impls here, written once.

mod ber;
pub mod imap;
pub mod ldap;
pub mod pop3;
mod shared;

pub use shared::Core;
pub(crate) use shared::{add_capability, compatible, not_protocol, text, Expect};

/// Longest protocol line: bytes before the LF (a CR counts).
pub const MAX_LINE: usize = 8 * 1024;
/// All bytes read in one dialogue, before and after TLS.
pub const MAX_TOTAL: usize = 64 * 1024;
/// Cap, in characters, of the greeting and of the recorded server answers.
pub const MAX_TEXT: usize = 512;
/// Cap, in characters, of `NotProtocol::seen` and of the injected-bytes preview; also how many
/// bytes a wrong first answer may run to before the machine gives up waiting for its LF.
pub const MAX_SEEN: usize = 120;
/// At most this many capabilities are kept per list ...
pub const MAX_CAPS: usize = 128;
/// ... each cut to this many characters.
pub const MAX_CAP_LEN: usize = 200;

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes, then poll again.
    Send(Vec<u8>),
    /// Read once (with a timeout), pass the bytes to `receive` (or call `eof`), then poll.
    Recv,
    /// Run the TLS handshake on the same stream, call `tls_established`, then poll.
    StartTls,
    /// The dialogue is over; read `outcome` and `transcript`.
    Done,
}

/// The I/O-free contract between a machine and the driver (`probe::dialogue::drive`): every
/// [`Dialogue`] is one, and so is an HTTP exchange.
pub trait Script {
    /// What the driver must do next. After `Send`: write the bytes, then poll again. After
    /// `Recv`: read (with its own timeout), call `receive`/`eof`, then poll. After `StartTls`:
    /// run the TLS handshake on the same stream, call `tls_established`, then poll again
    /// (subsequent Send/Recv are over TLS; `StartTls` repeats until then). After `Done`: stop.
    fn poll(&mut self) -> Action;
    /// Bytes read from the peer (plaintext, i.e. after TLS decryption once upgraded).
    fn receive(&mut self, bytes: &[u8]);
    /// The peer closed its side (a read returned 0 bytes).
    fn eof(&mut self);
    /// The TLS handshake requested by `StartTls` completed.
    fn tls_established(&mut self);
    /// The step the machine is in, for naming a driver timeout ("greeting", "capability", ...).
    fn step(&self) -> DialogueStep;
}

/// A mail or directory dialogue: a [`Script`] that keeps a transcript and an outcome.
pub trait Dialogue: Script {
    /// Buffered bytes not yet consumed. The machine counts them as
    /// `injected_after_upgrade` (CVE-2011-0411-style) and drops them when it returns
    /// `StartTls`, so this is 0 whenever `StartTls` is returned.
    fn buffered(&self) -> usize;
    /// Everything learned so far.
    fn transcript(&self) -> &Transcript;
    /// `Ok` when the dialogue ran to its end; `Err(Failure::Unfinished)` before `Done`.
    ///
    /// # Errors
    /// The first failure of the dialogue.
    fn outcome(&self) -> Result<(), &Failure>;
}

/// What one protocol adds to the shared [`Core`] (input buffer, output, transcript, result).
/// [`Script`] and [`Dialogue`] come with it: a new protocol implements this trait (and, if it
/// is line-based, [`LineProtocol`]) and nothing else.
pub trait Protocol {
    fn core(&self) -> &Core;
    fn core_mut(&mut self) -> &mut Core;
    /// Works on what is buffered: `Some(action)` goes to the driver, `None` means "look again"
    /// (something was consumed or queued).
    fn advance(&mut self) -> Option<Action>;
    /// The TLS handshake asked for by `StartTls` completed.
    fn upgraded(&mut self);
    /// The step the machine is in, named in timeouts and failures.
    fn step_name(&self) -> DialogueStep;
}

impl<P: Protocol> Script for P {
    fn poll(&mut self) -> Action {
        loop {
            if let Some(action) = self.core_mut().next_action() {
                return action;
            }
            if let Some(action) = self.advance() {
                return action;
            }
        }
    }
    fn receive(&mut self, bytes: &[u8]) {
        self.core_mut().receive(bytes);
    }
    fn eof(&mut self) {
        self.core_mut().inbox.set_eof();
    }
    fn tls_established(&mut self) {
        self.upgraded();
    }
    fn step(&self) -> DialogueStep {
        self.step_name()
    }
}

impl<P: Protocol> Dialogue for P {
    fn buffered(&self) -> usize {
        self.core().inbox.pending().len()
    }
    fn transcript(&self) -> &Transcript {
        &self.core().transcript
    }
    fn outcome(&self) -> Result<(), &Failure> {
        self.core().outcome()
    }
}

/// A protocol of CRLF-terminated lines (IMAP, POP3): the machine sees one whole line at a
/// time, or the end of the input.
pub trait LineProtocol: Protocol {
    /// The go-ahead for TLS was received: the driver must upgrade before anything else.
    fn awaiting_tls(&self) -> bool;
    /// One line from the server, without its line end.
    fn on_line(&mut self, line: &[u8]);
    /// The server closed with no whole line left.
    fn on_eof(&mut self);
}

/// [`Protocol::advance`] for a [`LineProtocol`].
pub fn advance_lines<L: LineProtocol>(machine: &mut L) -> Option<Action> {
    if machine.awaiting_tls() {
        return Some(Action::StartTls);
    }
    match machine.core_mut().inbox.take_line() {
        Some(line) => machine.on_line(&line),
        None if machine.core().inbox.at_eof() => machine.on_eof(),
        None => return Some(Action::Recv),
    }
    None
}

/// What a dialogue saw. Text is raw (lossy UTF-8, capped); the renderer sanitises it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The greeting line without CRLF, capped at [`MAX_TEXT`] characters.
    pub greeting: Option<String>,
    /// Before the upgrade (implicit-TLS dialogues record here too): IMAP CAPABILITY atoms
    /// (upper-case), POP3 CAPA lines (keyword upper-case), LDAP root DSE `name=value`.
    pub capabilities: Vec<String>,
    /// After the STARTTLS upgrade, where the protocol has them.
    pub capabilities_tls: Vec<String>,
    /// `None` when not applicable or not learned.
    pub starttls_offered: Option<bool>,
    /// The server's answer to STARTTLS/STLS, or `resultCode N (name)[: diagnostic]` for LDAP.
    pub starttls_response: Option<String>,
    /// Bytes that followed the go-ahead before TLS began (dropped, never parsed).
    pub injected_after_upgrade: usize,
    /// The first of those bytes as lossy text, capped at [`MAX_SEEN`] characters.
    pub injected_preview: Option<String>,
    /// The TLS upgrade completed.
    pub upgraded: bool,
    /// IMAP: the first untagged `OK` line after the upgrade (where a responder repeats its
    /// statement inside TLS, out of a middlebox's reach).
    pub notice_tls: Option<String>,
    /// LDAP over ldaps: the `SearchResultDone` of the root DSE read, `resultCode N (name)[: diag]`.
    pub root_dse_result: Option<String>,
}

/// The step a dialogue is in, named in timeouts and failures. A verdict tells "nothing
/// answered at all" (the first step) from "stopped mid-dialogue" by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogueStep {
    Greeting,
    Capability,
    CapabilityTls,
    StartTls,
    Tls,
    Logout,
    Quit,
    RootDse,
    HttpHead,
    HttpBody,
    Done,
}

impl DialogueStep {
    /// The step's name in reasons: `greeting`, `capability-tls`, `root-dse`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            DialogueStep::Greeting => "greeting",
            DialogueStep::Capability => "capability",
            DialogueStep::CapabilityTls => "capability-tls",
            DialogueStep::StartTls => "starttls",
            DialogueStep::Tls => "tls",
            DialogueStep::Logout => "logout",
            DialogueStep::Quit => "quit",
            DialogueStep::RootDse => "root-dse",
            DialogueStep::HttpHead => "http-head",
            DialogueStep::HttpBody => "http-body",
            DialogueStep::Done => "done",
        }
    }
}

impl std::fmt::Display for DialogueStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a dialogue did not run to its end.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The peer closed before the dialogue ended.
    #[error("the peer closed the connection during {during}")]
    Closed { during: DialogueStep },
    /// Something other than the expected protocol answered.
    #[error("expected {expected}, but the peer sent {seen:?}{}", .looks_like.map_or(String::new(), |l| format!(" (looks like {l})")))]
    NotProtocol {
        expected: &'static str,
        seen: String,
        looks_like: Option<&'static str>,
    },
    /// A line longer than the limit.
    #[error("a line is longer than {limit} bytes")]
    LineTooLong { limit: usize },
    /// More bytes than the limit.
    #[error("the peer sent more than {limit} bytes")]
    TooMuchData { limit: usize },
    /// The server answered NO/BAD/-ERR/a non-zero resultCode to STARTTLS.
    #[error("STARTTLS refused: {response}")]
    StartTlsRefused { response: String },
    /// The greeting (or a disconnect notice) refuses the session.
    #[error("the service rejected the session: {response}")]
    Rejected { response: String },
    /// Protocol-shaped but broken.
    #[error("malformed answer: {detail}")]
    Malformed { detail: String },
    /// `outcome` was asked before `Done`.
    #[error("the dialogue has not finished")]
    Unfinished,
}

impl Failure {
    /// A fixed label for the JSON and JUnit reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Failure::Closed { .. } => "closed",
            Failure::NotProtocol { .. } => "not-protocol",
            Failure::LineTooLong { .. } => "line-too-long",
            Failure::TooMuchData { .. } => "too-much-data",
            Failure::StartTlsRefused { .. } => "starttls-refused",
            Failure::Rejected { .. } => "rejected",
            Failure::Malformed { .. } => "malformed",
            Failure::Unfinished => "unfinished",
        }
    }
}

/// Names the protocol that `first_bytes` (the start of what a peer sent) most likely is.
#[must_use]
pub fn sniff(first_bytes: &[u8]) -> Option<&'static str> {
    let b = first_bytes;
    let ci = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    // A status word: followed by a space, a line end or nothing yet ("+OKAY" is not "+OK").
    let word = |w: &[u8]| ci(w) && matches!(b.get(w.len()), None | Some(b' ' | b'\r' | b'\n'));
    let first_line = b.split(|&c| c == b'\n').next().unwrap_or(b);
    let line_has = |w: &[u8]| {
        first_line
            .windows(w.len())
            .any(|x| x.eq_ignore_ascii_case(w))
    };
    if let [0x16 | 0x15, 0x03, ..] = b {
        Some("tls") // handshake or alert record, SSL 3.0 .. TLS 1.3
    } else if b.starts_with(b"HTTP/") {
        Some("http")
    } else if b.starts_with(b"SSH-") {
        Some("ssh")
    } else if word(b"* OK") || word(b"* PREAUTH") || word(b"* BYE") {
        Some("imap")
    } else if word(b"+OK") || word(b"-ERR") {
        Some("pop3")
    } else if b.starts_with(b"220 ") || b.starts_with(b"220-") {
        // FTP and SMTP share the 220 banner; the banner text usually names the product.
        Some(if line_has(b"FTP") && !line_has(b"SMTP") {
            "ftp"
        } else {
            "smtp"
        })
    } else if ldap_plausible(b) {
        Some("ldap")
    } else if ci(b"<!DOCTYPE html") || ci(b"<html") {
        Some("html")
    } else if b.starts_with(b"RFB ") {
        Some("vnc")
    } else {
        None
    }
}

/// `30 len 02 {1..4} ...`: an `LDAPMessage` SEQUENCE starting with its INTEGER `messageID`.
fn ldap_plausible(b: &[u8]) -> bool {
    let id_at = match b {
        [0x30, l, ..] if *l < 0x80 => 2,
        [0x30, l @ 0x81..=0x84, ..] => 2 + usize::from(l & 0x7f),
        _ => return false,
    };
    matches!((b.get(id_at), b.get(id_at + 1)), (Some(0x02), Some(1..=4)))
}

#[cfg(test)]
pub(crate) use shared::script;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_names_the_protocol() {
        let table: &[(&[u8], Option<&str>)] = &[
            (&[0x16, 0x03, 0x01, 0x02, 0x00], Some("tls")),
            (&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46], Some("tls")),
            (b"HTTP/1.1 403 Forbidden\r\n", Some("http")),
            (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", Some("ssh")),
            (b"220 mx.example.com ESMTP Postfix\r\n", Some("smtp")),
            (b"220 (vsFTPd 3.0.3)\r\n", Some("ftp")),
            (b"220-Microsoft FTP Service\r\n", Some("ftp")),
            (b"* OK IMAP4rev1 ready\r\n", Some("imap")),
            (b"* preauth hi\r\n", Some("imap")),
            (b"+OK POP3 ready\r\n", Some("pop3")),
            (b"-ERR go away\r\n", Some("pop3")),
            (b"+OK\r\n", Some("pop3")),
            (b"+OKAY", None),
            (b"* OKAY", None),
            (&[0x30, 0x0c, 0x02, 0x01, 0x01, 0x78], Some("ldap")),
            (&[0x30, 0x84, 0, 0, 0, 0x0c, 0x02, 0x01, 0x01], Some("ldap")),
            (b"<!DOCTYPE html><html>", Some("html")),
            (b"RFB 003.008\n", Some("vnc")),
            (b"0", None), // a lone 0x30 is not enough to call it LDAP
            (b"", None),
            (b"hello", None),
        ];
        for (bytes, want) in table {
            assert_eq!(sniff(bytes), *want, "{bytes:?}");
        }
    }

    #[test]
    fn failures_have_fixed_labels_and_readable_messages() {
        let f = not_protocol("imap", b"HTTP/1.1 200 OK\r\nServer: x\r\n");
        assert_eq!(f.label(), "not-protocol");
        assert_eq!(
            f.to_string(),
            "expected imap, but the peer sent \"HTTP/1.1 200 OK\" (looks like http)"
        );
        assert_eq!(
            Failure::Closed {
                during: DialogueStep::Greeting
            }
            .to_string(),
            "the peer closed the connection during greeting"
        );
        assert_eq!(Failure::Unfinished.label(), "unfinished");
    }
}
