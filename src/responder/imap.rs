//! The responder's IMAP side (RFC 9051/3501): a greeting carrying the statement, CAPABILITY,
//! NOOP, STARTTLS (§6.2.1) and LOGOUT; every login refused — this is not a mail server.
//!
//! [`ImapServer`] answers one command line at a time and does no I/O; [`starttls`] and
//! [`implicit`] drive it over a socket.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::e2e::Statement;

use super::context::{statement_details, tls_version, Ctx, LINGER};
use super::stream::{describe, finish, Guarded, Lines};

/// The greeting's text after the statement; `text-sha256` covers it.
pub const GREETING_TEXT: &str = "mssp-check responder ready";
/// The text of the untagged statement sent inside TLS right after a STARTTLS handshake.
pub const TLS_TEXT: &str = "mssp-check responder: statement inside TLS";
/// Longest tag accepted (RFC 9051 sets none; real clients use a few characters).
const MAX_TAG: usize = 64;
/// How many commands the log line names before it says "…".
const MAX_HISTORY: usize = 12;

/// What the driver does after writing a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Continue,
    /// Start the TLS handshake on the same stream (the reply was the go-ahead).
    StartTls,
    /// The session is over (LOGOUT).
    Close,
}

/// The bytes to write for one command line, and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub then: Then,
}

/// The IMAP state of one connection: plaintext or TLS, and the commands seen (for the log).
#[derive(Debug, Default)]
pub struct ImapServer {
    tls: bool,
    history: Vec<&'static str>,
    more: bool,
}

/// `* OK [<statement>] <text>\r\n`: the statement in the response code (RFC 9051 §7.1), its
/// `text-sha256` over `text`.
#[must_use]
pub(super) fn untagged_statement(
    ctx: &Ctx,
    peer: SocketAddr,
    text: &str,
    ekm: Option<&str>,
) -> (Vec<u8>, Statement) {
    let statement = ctx.statement(peer, Some(text), None, ekm);
    let line = format!("* OK [{}] {text}\r\n", statement.to_line());
    (line.into_bytes(), statement)
}

impl ImapServer {
    /// A session that starts in plaintext (143) or inside TLS (993).
    #[must_use]
    pub fn new(tls: bool) -> Self {
        ImapServer {
            tls,
            ..ImapServer::default()
        }
    }

    /// The TLS handshake after STARTTLS completed.
    pub fn upgraded(&mut self, version: &'static str) {
        self.tls = true;
        self.note(version);
    }

    /// The commands seen, in order, for the log: `CAPABILITY, STARTTLS, TLS 1.3, LOGOUT`.
    #[must_use]
    pub fn history(&self) -> String {
        let mut s = self.history.join(", ");
        if self.more {
            s.push_str(", …");
        }
        if s.is_empty() {
            s.push_str("no command");
        }
        s
    }

    fn note(&mut self, what: &'static str) {
        if self.history.len() < MAX_HISTORY {
            self.history.push(what);
        } else {
            self.more = true;
        }
    }

    /// The answer to one command line (without its CR LF).
    pub fn on_line(&mut self, line: &[u8]) -> Reply {
        let (tag, rest) = split_word(line);
        if !valid_tag(tag) {
            self.note("(invalid line)");
            return reply(b"* BAD Invalid tag or empty command line\r\n".to_vec());
        }
        let tag = String::from_utf8_lossy(tag);
        let (name, _args) = split_word(rest);
        let name = name.to_ascii_uppercase();
        let (status, then) = match name.as_slice() {
            b"CAPABILITY" => {
                self.note("CAPABILITY");
                let caps = if self.tls {
                    "IMAP4rev1 LOGINDISABLED"
                } else {
                    "IMAP4rev1 STARTTLS LOGINDISABLED"
                };
                let text = format!("* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed\r\n");
                return reply(text.into_bytes());
            }
            b"NOOP" => {
                self.note("NOOP");
                ("OK NOOP completed", Then::Continue)
            }
            b"STARTTLS" if self.tls => {
                self.note("STARTTLS (again)");
                ("BAD TLS is already active", Then::Continue)
            }
            b"STARTTLS" => {
                self.note("STARTTLS");
                ("OK Begin TLS negotiation now", Then::StartTls)
            }
            b"LOGOUT" => {
                self.note("LOGOUT");
                let text =
                    format!("* BYE mssp-check responder closing\r\n{tag} OK LOGOUT completed\r\n");
                return Reply {
                    bytes: text.into_bytes(),
                    then: Then::Close,
                };
            }
            // Never accept credentials; never echo them (the arguments are not even parsed).
            b"LOGIN" | b"AUTHENTICATE" => {
                self.note(if name == b"LOGIN" {
                    "LOGIN (refused)"
                } else {
                    "AUTHENTICATE (refused)"
                });
                (
                    "NO [UNAVAILABLE] This is the mssp-check firewall test responder, not a mail server: no logins",
                    Then::Continue,
                )
            }
            _ => {
                self.note("(unsupported command)");
                (
                    "BAD Command not supported by the mssp-check responder",
                    Then::Continue,
                )
            }
        };
        Reply {
            bytes: format!("{tag} {status}\r\n").into_bytes(),
            then,
        }
    }
}

fn reply(bytes: Vec<u8>) -> Reply {
    Reply {
        bytes,
        then: Then::Continue,
    }
}

/// The first space-separated word and the rest.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// `tag = 1*<any ASTRING-CHAR except "+">` (RFC 9051 §9): visible ASCII but no atom-specials
/// other than `]`, and no `+`.
fn valid_tag(tag: &[u8]) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG
        && tag
            .iter()
            .all(|&b| (0x21..0x7f).contains(&b) && !b"(){%*\"\\+".contains(&b))
}

/// How a dialogue loop ended.
enum End {
    Eof,
    StartTls,
    Logout,
    /// STARTTLS arrived with this many bytes after it, before the handshake.
    Pipelined(usize),
}

/// Sent instead of the go-ahead when bytes follow STARTTLS in the same read.
const PIPELINED_BYE: &[u8] =
    b"* BYE Data after STARTTLS, before the TLS handshake: closing (CVE-2011-0411)\r\n";

async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    lines: &mut Lines,
    server: &mut ImapServer,
) -> std::io::Result<End> {
    loop {
        let Some(line) = lines.next(s).await? else {
            return Ok(End::Eof);
        };
        let r = server.on_line(&line);
        // CVE-2011-0411: bytes that came with STARTTLS, before the handshake, must not be
        // read as if they had come inside TLS. A real client waits for the go-ahead.
        if r.then == Then::StartTls && lines.pending() > 0 {
            s.write_all(PIPELINED_BYE).await?;
            s.flush().await?;
            return Ok(End::Pipelined(lines.pending()));
        }
        s.write_all(&r.bytes).await?;
        s.flush().await?;
        match r.then {
            Then::Continue => {}
            Then::StartTls => return Ok(End::StartTls),
            Then::Close => return Ok(End::Logout),
        }
    }
}

/// Port 143: greeting, commands, STARTTLS, the statement again inside TLS, commands.
pub(super) async fn starttls(
    ctx: &Ctx,
    mut plain: Guarded<TcpStream>,
    peer: SocketAddr,
    stage: &super::slots::StageCell,
) -> String {
    let mut server = ImapServer::new(false);
    let mut lines = Lines::default();
    if let Err(e) = send(
        &mut plain,
        &untagged_statement(ctx, peer, GREETING_TEXT, None).0,
    )
    .await
    {
        return describe(&e);
    }
    match dialogue(&mut plain, &mut lines, &mut server).await {
        Ok(End::StartTls) => {}
        Ok(End::Eof) => {
            return format!(
                "statement sent in the greeting; closed by the client after {} (no TLS)",
                server.history()
            )
        }
        Ok(End::Logout) => {
            finish(&mut plain, LINGER).await;
            return format!(
                "statement sent in the greeting; logged out after {} (no TLS)",
                server.history()
            );
        }
        Ok(End::Pipelined(n)) => {
            return format!(
                "dropped: {n} bytes were pipelined after STARTTLS, before the TLS handshake \
                 (CVE-2011-0411 style), after {}",
                server.history()
            )
        }
        Err(e) => return format!("{} after {} (no TLS)", describe(&e), server.history()),
    }
    debug_assert_eq!(lines.pending(), 0, "nothing buffered crosses into TLS");
    let mut tls = match ctx.accept_tls(plain).await {
        Ok(tls) => tls,
        Err(reason) => return format!("TLS handshake after STARTTLS failed: {reason}"),
    };
    stage.set(super::slots::Stage::Serving);
    let version = tls_version(&tls);
    server.upgraded(version);
    // IMAP has no greeting after STARTTLS; an untagged OK carries the statement inside TLS,
    // where no middlebox that passed TLS through can have rewritten it.
    let ekm = super::context::tls_ekm(&tls);
    let (line, statement) = untagged_statement(ctx, peer, TLS_TEXT, ekm.as_deref());
    if let Err(e) = send(&mut tls, &line).await {
        return describe(&e);
    }
    let what = format!(
        "statement sent in the greeting and inside TLS {}",
        statement_details(version, &statement)
    );
    session_end(&mut tls, &mut lines, &mut server, &what).await
}

/// Port 993, after the TLS handshake: greeting with the statement, commands.
pub(super) async fn implicit<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Ctx,
    tls: &mut S,
    peer: SocketAddr,
    version: &'static str,
    ekm: Option<&str>,
) -> String {
    let mut server = ImapServer::new(true);
    let mut lines = Lines::default();
    let (line, statement) = untagged_statement(ctx, peer, GREETING_TEXT, ekm);
    if let Err(e) = send(tls, &line).await {
        return describe(&e);
    }
    let what = format!("statement sent {}", statement_details(version, &statement));
    session_end(tls, &mut lines, &mut server, &what).await
}

async fn session_end<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    lines: &mut Lines,
    server: &mut ImapServer,
    what: &str,
) -> String {
    match dialogue(s, lines, server).await {
        Ok(End::Logout) => {
            finish(s, LINGER).await;
            format!("{what}; logged out after {}", server.history())
        }
        Ok(End::Eof | End::StartTls | End::Pipelined(_)) => {
            format!("{what}; closed by the client after {}", server.history())
        }
        Err(e) => format!("{what}; {} after {}", describe(&e), server.history()),
    }
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Reply) -> String {
        String::from_utf8_lossy(&r.bytes).into_owned()
    }

    #[test]
    fn commands_get_the_documented_answers() {
        let mut plain = ImapServer::new(false);
        #[rustfmt::skip]
        let table: &[(&[u8], &str, Then)] = &[
            (b"a1 CAPABILITY", "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK CAPABILITY completed\r\n", Then::Continue),
            (b"a2 capability", "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na2 OK CAPABILITY completed\r\n", Then::Continue),
            (b"x NOOP", "x OK NOOP completed\r\n", Then::Continue),
            (b"a3 LOGIN user secret", "a3 NO [UNAVAILABLE] This is the mssp-check firewall test responder, not a mail server: no logins\r\n", Then::Continue),
            (b"a4 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", "a4 NO [UNAVAILABLE] This is the mssp-check firewall test responder, not a mail server: no logins\r\n", Then::Continue),
            (b"a5 SELECT INBOX", "a5 BAD Command not supported by the mssp-check responder\r\n", Then::Continue),
            (b"a6 ID NIL", "a6 BAD Command not supported by the mssp-check responder\r\n", Then::Continue),
            (b"", "* BAD Invalid tag or empty command line\r\n", Then::Continue),
            (b"+ CAPABILITY", "* BAD Invalid tag or empty command line\r\n", Then::Continue),
            (b"a\x1b[2J CAPABILITY", "* BAD Invalid tag or empty command line\r\n", Then::Continue),
            (b"a7", "a7 BAD Command not supported by the mssp-check responder\r\n", Then::Continue),
            (b"a8 STARTTLS", "a8 OK Begin TLS negotiation now\r\n", Then::StartTls),
        ];
        for (line, want, then) in table {
            let r = plain.on_line(line);
            assert_eq!((text(&r).as_str(), r.then), (*want, *then), "{line:?}");
        }
        assert!(!plain.history().contains("secret"));
    }

    #[test]
    fn after_tls_there_is_no_starttls() {
        let mut s = ImapServer::new(false);
        s.upgraded("TLS 1.3");
        let caps = text(&s.on_line(b"a1 CAPABILITY"));
        assert_eq!(
            caps,
            "* CAPABILITY IMAP4rev1 LOGINDISABLED\r\na1 OK CAPABILITY completed\r\n"
        );
        let again = s.on_line(b"a2 STARTTLS");
        assert_eq!(
            (text(&again).as_str(), again.then),
            ("a2 BAD TLS is already active\r\n", Then::Continue)
        );
        let bye = s.on_line(b"a3 LOGOUT");
        assert_eq!(
            text(&bye),
            "* BYE mssp-check responder closing\r\na3 OK LOGOUT completed\r\n"
        );
        assert_eq!(bye.then, Then::Close);
        assert_eq!(s.history(), "TLS 1.3, CAPABILITY, STARTTLS (again), LOGOUT");
    }

    #[test]
    fn the_history_is_bounded() {
        let mut s = ImapServer::new(true);
        assert_eq!(s.history(), "no command");
        for _ in 0..100 {
            s.on_line(b"a NOOP");
        }
        assert!(s.history().ends_with(", …"));
        assert!(s.history().len() < 12 * 6 + 10);
    }

    #[test]
    fn tags_follow_the_grammar() {
        for ok in [&b"a1"[..], b"A.1]", b"~tag!"] {
            assert!(valid_tag(ok), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b"a+",
            b"a*",
            b"a(",
            b"a\"",
            b"\xc3\xa9",
            &[b'a'; 65],
        ] {
            assert!(!valid_tag(bad), "{bad:?}");
        }
    }
}
