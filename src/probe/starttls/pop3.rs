//! POP3 dialogue (RFC 1939, CAPA from RFC 2449, STLS from RFC 2595 §4): greeting, CAPA, STLS, CAPA again over TLS, QUIT; or, on 995, greeting and QUIT.
//!
//! STLS is sent even when CAPA does not list it or is refused (CAPA is optional, and older
//! servers support STLS without it); `-ERR` to an STLS that was not listed is not a failure.

use super::{
    add_capability, advance_lines, text, Action, Core, DialogueStep, Expect, Failure, LineProtocol,
    Protocol, MAX_TEXT,
};

const GREETING: Expect = Expect {
    protocol: "pop3",
    prefixes: &[b"+OK", b"-ERR"],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    /// Waiting for the status line of CAPA.
    Capa {
        tls: bool,
    },
    /// Reading the multi-line CAPA list up to the `.` line.
    CapaList {
        tls: bool,
    },
    Stls,
    AwaitTls,
    Quit,
}

/// The POP3 machine.
#[derive(Debug)]
pub struct Pop3 {
    core: Core,
    step: Step,
    implicit: bool,
    stls_listed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Err,
    Other,
}

/// `+OK` / `-ERR`, alone or followed by a space (RFC 1939 §3), ASCII case-insensitively.
fn status(line: &[u8]) -> Status {
    let is = |word: &[u8]| {
        line.len() >= word.len()
            && line[..word.len()].eq_ignore_ascii_case(word)
            && matches!(line.get(word.len()), None | Some(b' '))
    };
    if is(b"+OK") {
        Status::Ok
    } else if is(b"-ERR") {
        Status::Err
    } else {
        Status::Other
    }
}

impl Pop3 {
    /// Port 110: greeting → CAPA → STLS (listed or not) → (TLS) → CAPA → QUIT.
    #[must_use]
    pub fn stls() -> Self {
        Pop3::new(false)
    }

    /// Port 995, run after TLS is up: greeting → QUIT. Records into the pre-upgrade fields.
    #[must_use]
    pub fn implicit() -> Self {
        Pop3::new(true)
    }

    fn new(implicit: bool) -> Self {
        Pop3 {
            core: Core::new(true, GREETING),
            step: Step::Greeting,
            implicit,
            stls_listed: false,
        }
    }

    fn command(&mut self, cmd: &str, next: Step) {
        self.core.send(format!("{cmd}\r\n").into_bytes());
        self.step = next;
    }

    fn malformed(&mut self, what: &str, raw: &[u8]) {
        let detail = format!("{what}: {:?}", text(raw, MAX_TEXT));
        self.core.abort(Failure::Malformed { detail });
    }

    fn on_capa_line(&mut self, tls: bool, raw: &[u8]) {
        if raw == b"." {
            if tls {
                return self.command("QUIT", Step::Quit);
            }
            self.core.transcript.starttls_offered = Some(self.stls_listed);
            return self.command("STLS", Step::Stls);
        }
        // Dot-unstuffing (RFC 1939 §3): a line starting with ".." stands for one dot.
        let raw = raw.strip_prefix(b".").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        let line = line.trim();
        let (keyword, args) = line.split_once(' ').unwrap_or((line, ""));
        if keyword.is_empty() {
            return;
        }
        let keyword = keyword.to_ascii_uppercase();
        if !tls && keyword == "STLS" {
            self.stls_listed = true;
        }
        let entry = if args.is_empty() {
            keyword
        } else {
            format!("{keyword} {}", args.trim())
        };
        let list = if tls {
            &mut self.core.transcript.capabilities_tls
        } else {
            &mut self.core.transcript.capabilities
        };
        add_capability(list, &entry);
    }
}

impl Protocol for Pop3 {
    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    fn advance(&mut self) -> Option<Action> {
        advance_lines(self)
    }

    fn upgraded(&mut self) {
        if self.step == Step::AwaitTls {
            self.core.transcript.upgraded = true;
            self.command("CAPA", Step::Capa { tls: true });
        }
    }

    fn step_name(&self) -> DialogueStep {
        if self.core.is_done() {
            return DialogueStep::Done;
        }
        match self.step {
            Step::Greeting => DialogueStep::Greeting,
            Step::Capa { tls: false } | Step::CapaList { tls: false } => DialogueStep::Capability,
            Step::Capa { tls: true } | Step::CapaList { tls: true } => DialogueStep::CapabilityTls,
            Step::Stls => DialogueStep::StartTls,
            Step::AwaitTls => DialogueStep::Tls,
            Step::Quit => DialogueStep::Quit,
        }
    }
}

impl LineProtocol for Pop3 {
    fn awaiting_tls(&self) -> bool {
        self.step == Step::AwaitTls
    }

    fn on_line(&mut self, raw: &[u8]) {
        match (self.step, status(raw)) {
            (Step::Greeting, Status::Ok) => {
                self.core.transcript.greeting = Some(text(raw, MAX_TEXT));
                if self.implicit {
                    self.command("QUIT", Step::Quit);
                } else {
                    self.command("CAPA", Step::Capa { tls: false });
                }
            }
            (Step::Greeting, Status::Err) => {
                let response = text(raw, MAX_TEXT);
                self.core.transcript.greeting = Some(response.clone());
                self.core.abort(Failure::Rejected { response });
            }
            (Step::Greeting, Status::Other) => self.core.abort(super::not_protocol("pop3", raw)),
            (Step::Capa { tls }, Status::Ok) => self.step = Step::CapaList { tls },
            (Step::Capa { tls: true }, Status::Err) => self.command("QUIT", Step::Quit),
            // RFC 2449 is optional: -ERR means the list is unknown, not that STLS is missing.
            (Step::Capa { tls: false }, Status::Err) => self.command("STLS", Step::Stls),
            (Step::Capa { .. }, Status::Other) => {
                self.malformed("CAPA answer is not +OK/-ERR", raw);
            }
            (Step::CapaList { tls }, _) => self.on_capa_line(tls, raw),
            (Step::Stls, Status::Ok) => {
                self.core.transcript.starttls_response = Some(text(raw, MAX_TEXT));
                self.core.begin_tls();
                self.step = Step::AwaitTls;
            }
            (Step::Stls, Status::Err) => {
                let response = text(raw, MAX_TEXT);
                self.core.transcript.starttls_response = Some(response.clone());
                // Refusing what was not listed is the normal answer, not a failure.
                if self.core.transcript.starttls_offered == Some(true) {
                    self.core.fail(Failure::StartTlsRefused { response });
                }
                self.command("QUIT", Step::Quit);
            }
            (Step::Stls, Status::Other) => self.malformed("STLS answer is not +OK/-ERR", raw),
            (Step::Quit, _) => self.core.finish(),
            (Step::AwaitTls, _) => {} // unreachable: poll never reads in this step
        }
    }

    fn on_eof(&mut self) {
        match self.step {
            Step::Quit => self.core.finish(),
            // Hanging up on an STLS it never listed: as good as -ERR.
            Step::Stls if self.core.transcript.starttls_offered != Some(true) => {
                self.core.finish();
            }
            Step::Greeting => {
                let f = self.core.inbox.eof_failure(DialogueStep::Greeting);
                self.core.abort(f);
            }
            Step::Capa { .. } | Step::CapaList { .. } | Step::Stls | Step::AwaitTls => {
                let during = self.step_name();
                self.core.abort(Failure::Closed { during });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::script::{self, run};
    use super::super::MAX_LINE;
    use super::super::{Dialogue, Script};
    use super::*;

    // Captured from Dovecot 2.3.19.1 (Debian 12) on 127.0.0.1, with and without `ssl = yes`.
    const GREETING: &[u8] = b"+OK Dovecot (Debian) ready.\r\n";
    const CAPA: &[u8] = b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n";
    const GO: &[u8] = b"+OK Begin TLS negotiation now.\r\n";
    const CAPA_TLS: &[u8] = b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN\r\n.\r\n";
    const BYE: &[u8] = b"+OK Logging out\r\n";
    const NO_TLS: &[u8] = b"-ERR TLS support isn't enabled.\r\n";
    // p3scan-style proxy: its own line first, STLS removed from CAPA (domain research §2.2).
    const P3SCAN: &[u8] = b"+OK P3Scan'ing...\r\n";

    /// name, server turns, commands sent, STLS offered, outcome.
    type Row<'a> = (
        &'a str,
        &'a [&'a [u8]],
        &'a [&'a str],
        Option<bool>,
        Result<(), Failure>,
    );

    const FULL: &[&str] = &["CAPA", "STLS", "<tls>", "CAPA", "QUIT"];

    fn both(make: fn() -> Pop3, turns: &[&[u8]]) -> (Pop3, Vec<String>) {
        script::both(make, turns, false)
    }

    #[test]
    fn every_branch_sends_the_right_commands_and_ends_as_expected() {
        let closed = |during| Err(Failure::Closed { during });
        let refused = |r: &str| Err(Failure::StartTlsRefused { response: r.into() });
        #[rustfmt::skip]
        let table: &[Row] = &[
            ("dovecot, stls offered", &[GREETING, CAPA, GO, CAPA_TLS, BYE], FULL, Some(true), Ok(())),
            ("stls not listed, tried: -ERR", &[GREETING, CAPA_TLS, NO_TLS, BYE], &["CAPA", "STLS", "QUIT"], Some(false), Ok(())),
            ("stls not listed, but it works", &[GREETING, CAPA_TLS, GO, CAPA_TLS, BYE], FULL, Some(false), Ok(())),
            ("stls not listed, hangs up on it", &[GREETING, CAPA_TLS], &["CAPA", "STLS"], Some(false), Ok(())),
            ("p3scan strips stls", &[P3SCAN, CAPA_TLS, b"-ERR Unknown command: XXXX\r\n", BYE], &["CAPA", "STLS", "QUIT"], Some(false), Ok(())),
            ("capa -ERR, old server with STLS (RFC 2449 optional)", &[GREETING, b"-ERR unknown command\r\n", GO, b"-ERR unknown command\r\n", BYE], FULL, None, Ok(())),
            ("capa -ERR, stls -ERR", &[GREETING, b"-ERR unknown command\r\n", b"-ERR unknown command\r\n", BYE], &["CAPA", "STLS", "QUIT"], None, Ok(())),
            ("stls -ERR (dovecot text)", &[GREETING, CAPA, NO_TLS, BYE], &["CAPA", "STLS", "QUIT"], Some(true), refused("-ERR TLS support isn't enabled.")),
            ("capa -ERR after tls", &[GREETING, CAPA, GO, b"-ERR no\r\n", BYE], FULL, Some(true), Ok(())),
            ("eof before the greeting", &[], &[], None, closed(DialogueStep::Greeting)),
            ("eof after the greeting", &[GREETING], &["CAPA"], None, closed(DialogueStep::Capability)),
            ("eof inside the CAPA list", &[GREETING, b"+OK\r\nTOP\r\nSTLS\r\n"], &["CAPA"], None, closed(DialogueStep::Capability)),
            ("eof after STLS", &[GREETING, CAPA], &["CAPA", "STLS"], Some(true), closed(DialogueStep::StartTls)),
            ("eof after TLS", &[GREETING, CAPA, GO], &["CAPA", "STLS", "<tls>", "CAPA"], Some(true), closed(DialogueStep::CapabilityTls)),
            ("eof after QUIT is normal", &[GREETING, CAPA, GO, CAPA_TLS], FULL, Some(true), Ok(())),
            ("-ERR greeting", &[b"-ERR [SYS/TEMP] too busy\r\n"], &[], None, Err(Failure::Rejected { response: "-ERR [SYS/TEMP] too busy".into() })),
            ("CAPA answer neither +OK nor -ERR", &[GREETING, b"* OK what\r\n"], &["CAPA"], None, Err(Failure::Malformed { detail: "CAPA answer is not +OK/-ERR: \"* OK what\"".into() })),
            ("STLS answer neither", &[GREETING, CAPA, b"OK\r\n"], &["CAPA", "STLS"], Some(true), Err(Failure::Malformed { detail: "STLS answer is not +OK/-ERR: \"OK\"".into() })),
        ];
        for (name, turns, want_sent, offered, want) in table {
            let (pop, sent) = both(Pop3::stls, turns);
            assert_eq!(sent, *want_sent, "{name}: commands");
            assert_eq!(
                pop.transcript().starttls_offered,
                *offered,
                "{name}: offered"
            );
            assert_eq!(
                pop.outcome().map_err(Clone::clone),
                *want,
                "{name}: outcome"
            );
        }
    }

    #[test]
    fn dovecot_transcript_records_both_capa_lists() {
        let (pop, _) = both(Pop3::stls, &[GREETING, CAPA, GO, CAPA_TLS, BYE]);
        let t = pop.transcript();
        assert_eq!(t.greeting.as_deref(), Some("+OK Dovecot (Debian) ready."));
        assert_eq!(
            t.capabilities,
            [
                "CAPA",
                "TOP",
                "UIDL",
                "RESP-CODES",
                "PIPELINING",
                "AUTH-RESP-CODE",
                "STLS",
                "USER",
                "SASL PLAIN"
            ]
        );
        assert_eq!(t.capabilities_tls.len(), 8);
        assert!(!t.capabilities_tls.iter().any(|c| c == "STLS"));
        assert_eq!(
            t.starttls_response.as_deref(),
            Some("+OK Begin TLS negotiation now.")
        );
        assert!(t.upgraded);
    }

    #[test]
    fn capa_lines_are_dot_unstuffed_and_keywords_upper_cased() {
        let (pop, sent) = both(Pop3::stls, &[GREETING, b"+OK list follows\r\nstls\r\n..dotted\r\nimplementation  Some Server \r\n\r\n.\r\n", GO]);
        assert_eq!(
            pop.transcript().capabilities,
            ["STLS", ".DOTTED", "IMPLEMENTATION Some Server"]
        );
        assert_eq!(sent[..2], ["CAPA", "STLS"]);
    }

    #[test]
    fn another_protocol_is_named_and_nothing_is_sent() {
        #[rustfmt::skip]
        let table: &[(&[u8], Option<&str>)] = &[
            (b"HTTP/1.1 400 Bad Request\r\n\r\n", Some("http")),
            (&[0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00], Some("tls")),
            (b"SSH-2.0-OpenSSH_9.2\r\n", Some("ssh")),
            (b"* OK IMAP4rev1 ready\r\n", Some("imap")),
            (b"220 mx ESMTP\r\n", Some("smtp")),
            (b"+OKAY\r\n", None),
        ];
        for (bytes, looks_like) in table {
            let (pop, sent) = both(Pop3::stls, &[bytes]);
            assert!(sent.is_empty());
            assert!(
                matches!(pop.outcome(), Err(Failure::NotProtocol { expected: "pop3", looks_like: l, .. }) if l == looks_like),
                "{bytes:?}: {:?}",
                pop.outcome()
            );
        }
    }

    #[test]
    fn an_endless_capa_line_fails_at_the_cap() {
        let mut pop = Pop3::stls();
        pop.receive(GREETING);
        assert_eq!(pop.poll(), Action::Send(b"CAPA\r\n".to_vec()));
        pop.receive(b"+OK\r\n");
        assert_eq!(pop.poll(), Action::Recv);
        pop.receive(&vec![b'X'; MAX_LINE + 1]);
        assert_eq!((pop.poll(), pop.buffered()), (Action::Done, 0));
        assert_eq!(
            pop.outcome(),
            Err(&Failure::LineTooLong { limit: MAX_LINE })
        );
    }

    #[test]
    fn bytes_after_the_go_ahead_are_counted() {
        let mut pop = Pop3::stls();
        let sent = run(
            &mut pop,
            &[
                GREETING,
                CAPA,
                b"+OK Begin TLS\r\n+OK P3Scan'ing...\r\n",
                CAPA_TLS,
                BYE,
            ],
            false,
            false,
        );
        assert_eq!(sent, FULL);
        assert_eq!(pop.transcript().injected_after_upgrade, 19);
        assert_eq!(
            pop.transcript().injected_preview.as_deref(),
            Some("+OK P3Scan'ing...\r\n")
        );
    }

    #[test]
    fn a_long_greeting_is_kept_raw_but_capped() {
        let greeting = format!("+OK {}\x1b[2J\r\n", "é".repeat(600));
        let (pop, _) = both(Pop3::implicit, &[greeting.as_bytes(), BYE]);
        let kept = pop.transcript().greeting.clone().unwrap_or_default();
        assert_eq!(kept.chars().count(), MAX_TEXT);
        assert!(
            kept.starts_with("+OK éé"),
            "not sanitised here: the renderer does that"
        );
    }

    #[test]
    fn implicit_reads_the_greeting_and_quits() {
        let (pop, sent) = both(Pop3::implicit, &[GREETING, BYE]);
        assert_eq!(sent, ["QUIT"]);
        assert_eq!(pop.outcome(), Ok(()));
        assert_eq!(
            pop.transcript().greeting.as_deref(),
            Some("+OK Dovecot (Debian) ready.")
        );
        assert_eq!(
            (pop.transcript().starttls_offered, pop.transcript().upgraded),
            (None, false)
        );
        let (closed, _) = both(Pop3::implicit, &[]);
        assert_eq!(
            closed.outcome(),
            Err(&Failure::Closed {
                during: DialogueStep::Greeting
            })
        );
    }

    #[test]
    fn steps_are_named() {
        let mut pop = Pop3::stls();
        let mut steps = vec![pop.step()];
        for turn in [GREETING, CAPA, GO] {
            while matches!(pop.poll(), Action::Send(_)) {}
            pop.receive(turn);
            let _ = pop.poll();
            steps.push(pop.step());
        }
        pop.tls_established();
        steps.push(pop.step());
        assert_eq!(
            steps.iter().map(|s| s.label()).collect::<Vec<_>>(),
            [
                "greeting",
                "capability",
                "starttls",
                "tls",
                "capability-tls"
            ]
        );
    }
}
