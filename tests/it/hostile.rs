//! The hostile-peer catalogue (issue 13): one table of peers that misbehave on purpose, each
//! row run by [`hostile_peer`], which asserts a bounded time, the verdict with a word of its
//! reason, and output that is safe for a terminal and a ticket in every report format.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mssp_check::report::{render, Report, Style, TableView};
use rcgen::{DistinguishedName, DnType};
use test_case::test_case;

use crate::fixtures::{self, Serve};
use crate::servers::{self, StartTls};
use crate::{check, row};

/// Every row's `--timeout`: longer than the byte-a-second trickle's gap, so no single read
/// times out there and only the probe's overall deadline (three steps) can end it.
const STEP: &str = "1500ms";

/// A hang guard, not a performance figure. A probe ends within three steps; one that
/// connected and then stalled (a trickle ends at its deadline) is asked once more on a
/// fresh connection, and the canary may follow (the README's "How a path is decided"):
/// seven steps, 10.5 s here, plus slack for a loaded 2-core machine that runs the rest of
/// the suite, and a 10 MB greeting, at the same time.
const BOUND: Duration = Duration::from_millis(7 * 1500 + 5000);

/// The longest line any format may print. The longest seen are JSON's `greeting` (a peer's
/// text is kept up to 512 characters: about 540 with its key) and JUnit's `<testcase>` lines with
/// their attributes (about 450); anything longer is a flood getting through.
const MAX_LINE: usize = 1000;

/// The largest HTML page of one host's deployment view: the page is written as a few long
/// lines, so its size, not a line, shows a flood. Every row's page is 9–13 KB.
const MAX_HTML: usize = 64 * 1024;

/// A greeting with a NUL, bytes that are not UTF-8 (a lone continuation byte, 0xff, an
/// 8-bit CSI 0x9b) and a UTF-8 encoded C1 CSI (U+009B).
const NUL_AND_BAD_UTF8: &[u8] =
    b"* OK [CAPABILITY IMAP4rev1 STARTTLS] a\x00b \x80\xff\x9b31m \xc2\x9b2J ready\r\n";

/// Clear the screen, set the window title, ring the bell, underline, hyperlink.
const ESCAPES_IMAP: &[u8] =
    b"* OK [CAPABILITY IMAP4rev1 STARTTLS] \x1b[2J\x1b]0;pwned\x07\x1b[4mready\x1b]8;;http://x/\x1b\\\r\n";
const ESCAPES_POP3: &str = "+OK \x1b[2J\x1b]0;pwned\x07 ready\x1bP+q\x1b\\";

/// An EWS answer with escapes in the status line's reason and in its headers.
const ESCAPES_HTTP: &[u8] = b"HTTP/1.1 401 Unauthor\x1b[2Jized\x07\r\nServer: IIS\x1b]0;pwned\x07\x9b6n\r\nWWW-Authenticate: NTLM\x1b[8m\r\nVia: 1.1 \x1b]8;;http://x/\x1b\\proxy\r\nContent-Length: 0\r\n\r\n";

/// 16 KiB of noise from a fixed seed: the same bytes every run, not TLS, not any protocol.
static NOISE: [u8; 16 * 1024] = noise(0x4d53_5350);

const fn noise<const N: usize>(seed: u32) -> [u8; N] {
    let mut out = [0u8; N];
    let mut x = seed;
    let mut i = 0;
    while i < N {
        // Numerical Recipes' LCG; the top byte is the well-mixed one.
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out[i] = x.to_be_bytes()[0];
        i += 1;
    }
    out
}

/// An IMAP greeting just under the 8 KiB line limit: kept, so the report must cut it.
static LONG_GREETING: [u8; 8000] = long_greeting();

const fn long_greeting<const N: usize>() -> [u8; N] {
    let head = b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ";
    let mut out = [b'A'; N];
    let mut i = 0;
    while i < head.len() {
        out[i] = head[i];
        i += 1;
    }
    out[N - 2] = b'\r';
    out[N - 1] = b'\n';
    out
}

/// "Without end": as long as the client reads, up to 64 MiB so that a client that never
/// stops cannot keep the test running.
const ENDLESS: usize = 64 << 20;

/// A kilobyte of one letter: the filler of the huge HTTP header.
const KIB: &[u8] = &[b'a'; 1024];

/// How each row's peer behaves.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// Writes this, then closes (after up to 200 ms of listening).
    Canned(&'static [u8]),
    /// Writes the first bytes, then the second over and over up to a length, then the last
    /// ([`servers::flood`]).
    Flood(&'static [u8], &'static [u8], usize, &'static [u8]),
    /// `+OK`, then one `x` a second.
    Trickle,
    /// A working IMAP server (STARTTLS and all) with this greeting.
    Imap(&'static [u8]),
    /// A working POP3 server with this greeting.
    Pop3(&'static str),
    /// A TLS server whose certificate carries escapes in its CN, O and a SAN.
    EscapedCertificate,
    /// A TLS server answering one HTTP request like this.
    Https(Serve),
    /// A TLS server with a chain of more than 100 KB.
    HugeChain,
    /// A TLS server that closes after its `ServerHello`.
    CloseAfterServerHello,
    /// A TLS server that sends its `ServerHello` and then nothing.
    SilentAfterServerHello,
    /// Accepts, then resets (`SO_LINGER` 0) at once.
    Reset,
    /// Accepts, then resets on the client's first bytes or after 300 ms, when the client's
    /// connect has surely completed.
    ResetLater,
}

async fn start(peer: Peer) -> SocketAddr {
    let id = || fixtures::self_signed(&["mail01"]);
    match peer {
        Peer::Canned(bytes) => fixtures::canned_server("127.0.0.1:0", bytes).await,
        Peer::Flood(first, fill, len, end) => servers::flood(first, fill, len, end).await,
        Peer::Trickle => servers::trickle(b"+OK", b'x', Duration::from_secs(1)).await,
        Peer::Imap(greeting) => servers::imap_greeting(id(), StartTls::Offer, greeting).await,
        Peer::Pop3(greeting) => servers::pop3(id(), StartTls::Offer, greeting).await,
        Peer::EscapedCertificate => {
            let names = ["mgmt01", "evil\x1b]0;pwned\x07.example", "x\x1b[2J.example"];
            let cert = fixtures::self_signed_with(&names, |p| {
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, "\x1b[31mmgmt01\u{9b}2J\x07");
                dn.push(
                    DnType::OrganizationName,
                    "\x1b]8;;http://x/\x1b\\Evil\u{202e} Corp\x1b[5m",
                );
                p.distinguished_name = dn;
            });
            fixtures::tls_server("127.0.0.1:0", cert, Serve::Hold).await
        }
        Peer::Https(serve) => fixtures::tls_server("127.0.0.1:0", id(), serve).await,
        Peer::HugeChain => {
            // A leaf and four certificates stuffed with names: over 100 KB.
            let mut chain = id();
            for n in 0..4 {
                let names: Vec<String> = (0..1200)
                    .map(|i| format!("h{n}-{i:05}.example.test"))
                    .collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                chain.chain.extend(fixtures::self_signed(&refs).chain);
            }
            let size: usize = chain.chain.iter().map(|c| c.len()).sum();
            assert!(size > 100_000, "the chain is {size} bytes");
            fixtures::tls_server("127.0.0.1:0", chain, Serve::Hold).await
        }
        Peer::CloseAfterServerHello => servers::server_hello_then(id(), true).await,
        Peer::SilentAfterServerHello => servers::server_hello_then(id(), false).await,
        Peer::Reset => servers::reset_on_accept(Duration::ZERO).await,
        Peer::ResetLater => servers::reset_on_accept(Duration::from_millis(300)).await,
    }
}

// Rows: the peer, the flag that points a path at it (`--role ih`; every other target of the
// role is a closed port), the path asserted, its verdict and a word of its reason.
#[test_case(Peer::Flood(b"* OK ", b"A", ENDLESS, b""), "--imap", "multi-143-ih-any", "protocol-error", "longer than" ; "endless IMAP greeting")]
#[test_case(Peer::Trickle, "--pop3", "multi-110-ih-any", "no-service", "deadline" ; "POP3 greeting a byte a second")]
#[test_case(Peer::Flood(b"* OK ", b"A", 10_000_000, b"\r\n"), "--imap", "multi-143-ih-any", "protocol-error", "longer than" ; "10 MB IMAP greeting")]
#[test_case(Peer::Flood(b"* OK ready\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS\r\n", ENDLESS, b""), "--imap", "multi-143-ih-any", "protocol-error", "more than" ; "endless IMAP capabilities")]
#[test_case(Peer::Flood(b"+OK ready\r\n+OK\r\n", b"SASL PLAIN\r\n", ENDLESS, b""), "--pop3", "multi-110-ih-any", "protocol-error", "more than" ; "endless POP3 CAPA list")]
#[test_case(Peer::Flood(b"", b"\x15\x03\x03\x00\x02\x01\x5a", ENDLESS, b""), "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "one TLS warning alert after another" ; "endless TLS warning alerts")]
#[test_case(Peer::Imap(NUL_AND_BAD_UTF8), "--imap", "multi-143-ih-any", "ok", "STARTTLS" ; "NUL and invalid UTF-8 in an IMAP greeting")]
#[test_case(Peer::Imap(&LONG_GREETING), "--imap", "multi-143-ih-any", "ok", "STARTTLS" ; "an IMAP greeting of 8000 bytes")]
#[test_case(Peer::Imap(ESCAPES_IMAP), "--imap", "multi-143-ih-any", "ok", "STARTTLS" ; "escapes in an IMAP greeting")]
#[test_case(Peer::Pop3(ESCAPES_POP3), "--pop3", "multi-110-ih-any", "ok", "STARTTLS" ; "escapes in a POP3 greeting")]
#[test_case(Peer::EscapedCertificate, "--mgmt", "multi-8471-ih-mgmt", "ok", "self-signed" ; "escapes in certificate names")]
#[test_case(Peer::Https(Serve::Answer(ESCAPES_HTTP)), "--ews", "multi-443-ih-any", "ok", "401" ; "escapes in HTTP headers")]
#[test_case(Peer::Https(Serve::Answer(ESCAPES_HTTP)), "--mgmt", "multi-8470-ih-mgmt", "ok", "401" ; "escapes in HTTP headers on the pairing port")]
#[test_case(Peer::Https(Serve::Flood { head: b"HTTP/1.1 401 Unauthorized\r\n", fill: b"X-Filler: aaaaaaaaaaaa\r\n", times: 1_000_000, tail: b"\r\n" }), "--ews", "multi-443-ih-any", "protocol-error", "more than 16384 bytes" ; "endless HTTP headers")]
#[test_case(Peer::Https(Serve::Flood { head: b"HTTP/1.1 401 Unauthorized\r\nX-Huge: ", fill: KIB, times: 10_240, tail: b"\r\n\r\n" }), "--ews", "multi-443-ih-any", "protocol-error", "more than 16384 bytes" ; "a 10 MB HTTP header")]
#[test_case(Peer::Canned(&NOISE), "--mgmt", "multi-8471-ih-mgmt", "protocol-error", "tls" ; "random bytes on a TLS port")]
#[test_case(Peer::Canned(b"\x16\x03\x03\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff"), "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "is malformed" ; "a TLS record of nonsense")]
#[test_case(Peer::Canned(b"\x16\x03\x03\xff\xff\x02\x00\x00"), "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "is malformed" ; "a TLS record header of 64 KiB")]
#[test_case(Peer::HugeChain, "--ews", "multi-443-ih-any", "tls-failed", "larger than 64 KiB" ; "a 100 KB certificate chain")]
#[test_case(Peer::CloseAfterServerHello, "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "closed" ; "close after ServerHello")]
#[test_case(Peer::SilentAfterServerHello, "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "stalled after the server's first answer" ; "silence after ServerHello")]
#[test_case(Peer::Canned(&[0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x02]), "--ldap", "multi-389-ih-any", "protocol-error", "BER length announced" ; "LDAP length of 2^31")]
#[test_case(Peer::Canned(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02]), "--ldap", "multi-389-ih-any", "protocol-error", "BER length announced" ; "LDAP length of 0xffffffff")]
#[test_case(Peer::ResetLater, "--imap", "multi-143-ih-any", "no-service", "closed or reset with no IMAP answer" ; "accept and reset on IMAP")]
// "reset during the TLS handshake" on Linux; under Wine the reset arrives as a close.
#[test_case(Peer::ResetLater, "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "during the TLS handshake" ; "accept and reset on a TLS port")]
// A reset that comes before the probe's connect has looked at its socket fails the connect
// itself (ECONNRESET): it reads as the reset a moment later would. Nothing listens on the
// canary port (9) of 127.0.0.1, so the host itself dropped the handshake (`intercept.rs`
// has the middlebox that takes the canary port too).
#[test_case(Peer::Reset, "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "nothing at all came back" ; "accept and reset at once on a TLS port")]
#[test_case(Peer::Canned(b""), "--mgmt", "multi-8471-ih-mgmt", "tls-failed", "nothing at all came back" ; "accept and close on a TLS port")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peer(peer: Peer, flag: &str, path: &str, verdict: &str, reason_has: &str) {
    let addr = start(peer).await.to_string();
    let closed = fixtures::closed_port("127.0.0.1").to_string();
    let mut args = vec!["--role", "ih", "--timeout", STEP, flag, &addr];
    if flag != "--mgmt" {
        args.extend(["--mgmt", &closed]);
    }
    let started = Instant::now();
    let report = tokio::time::timeout(2 * BOUND, check(&args))
        .await
        .expect("the run ends");
    let took = started.elapsed();
    assert!(took < BOUND, "{path}: {took:?}, more than {BOUND:?}");
    let j = &row(&report, path).judgement;
    assert_eq!(j.verdict.label(), verdict, "{path}: {j:?}");
    assert!(
        j.reason.to_lowercase().contains(&reason_has.to_lowercase()),
        "{path}: {:?} lacks {reason_has:?}",
        j.reason
    );
    let widest = assert_sanitised(&report);
    // Shown with --nocapture: the figures of the README's "Robustness".
    eprintln!(
        "{path}: {verdict} in {took:.1?}, longest line {widest}: {}",
        j.reason
    );
}

/// The bidirectional controls that reorder what a terminal shows.
fn bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Every format a person reads or a CI or monitoring system stores, the report's and those
/// of its deployment view (`mssp-check report`, where the peer's text comes back out of the
/// JSON): valid UTF-8, no control character but line ends and tabs (C0, DEL, C1: ESC, BEL
/// and NUL among them, and the bidirectional overrides), no line over [`MAX_LINE`] (the HTML
/// page: no more than [`MAX_HTML`]). Returns the longest line.
fn assert_sanitised(report: &Report) -> usize {
    let table = Style::Table {
        color: false,
        width: None,
        view: TableView {
            quiet: false,
            phases: true,
        },
    };
    let mut outputs = Vec::new();
    for (name, style) in [
        ("table", table),
        ("json", Style::Json),
        ("markdown", Style::Markdown),
        ("junit", Style::Junit),
        ("prometheus", Style::Prometheus),
        ("nagios", Style::Nagios),
    ] {
        let mut out = Vec::new();
        render(report, style, &mut out).expect("render");
        outputs.push((name, out));
    }
    let json = outputs[1].1.clone();
    outputs.extend(deployment(&json));
    let mut widest = 0;
    for (name, out) in outputs {
        let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{name}: not UTF-8: {e}"));
        if let Some(c) = text
            .chars()
            .find(|&c| (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || bidi(c))
        {
            panic!("{name}: control character U+{:04X} in\n{text}", c as u32);
        }
        if name == "report html" {
            // One long line by design (the browser wraps it): bounded as a whole instead.
            assert!(text.len() <= MAX_HTML, "{name}: {} bytes", text.len());
            continue;
        }
        let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            longest <= MAX_LINE,
            "{name}: a line of {longest} characters"
        );
        widest = widest.max(longest);
    }
    widest
}

/// The deployment view of one JSON report in each of its formats.
fn deployment(json: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use mssp_check::deployment::{self, input, Style};
    let run = input::parse("hostile.json", json).expect("the report reads back");
    let profiles = mssp_check::config::load_profiles(None).expect("profiles");
    let view = deployment::build(vec![run], Vec::new(), None, &profiles, false).expect("view");
    [
        (
            "report table",
            Style::Table {
                color: false,
                width: None,
            },
        ),
        ("report markdown", Style::Markdown),
        ("report json", Style::Json),
        ("report junit", Style::Junit),
        ("report html", Style::Html),
    ]
    .into_iter()
    .map(|(name, style)| {
        let mut out = Vec::new();
        deployment::render(&view, style, &mut out).expect("render");
        (name, out)
    })
    .collect()
}
