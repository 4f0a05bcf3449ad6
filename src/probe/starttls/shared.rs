//! The bounded input buffer and the state every STARTTLS machine shares: what is read, what is queued to send, the transcript and the first failure.

use super::{
    sniff, Action, DialogueStep, Failure, Transcript, MAX_CAPS, MAX_CAP_LEN, MAX_LINE, MAX_SEEN,
    MAX_TOTAL,
};

/// Lossy UTF-8 of `bytes`, cut to `max_chars` characters.
pub(crate) fn text(bytes: &[u8], max_chars: usize) -> String {
    let cut = &bytes[..bytes.len().min(max_chars.saturating_mul(4))];
    String::from_utf8_lossy(cut)
        .chars()
        .take(max_chars)
        .collect()
}

/// Whether `data` can still become (or already starts with) one of `prefixes`, ASCII case-insensitively.
pub(crate) fn compatible(data: &[u8], prefixes: &[&[u8]]) -> bool {
    prefixes.iter().any(|p| {
        let n = p.len().min(data.len());
        data[..n].eq_ignore_ascii_case(&p[..n])
    })
}

/// `NotProtocol` for a first answer `head` (at most [`MAX_SEEN`] bytes are looked at).
pub(crate) fn not_protocol(expected: &'static str, head: &[u8]) -> Failure {
    let head = &head[..head.len().min(MAX_SEEN)];
    let line = head.split(|&c| c == b'\n').next().unwrap_or(head);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Failure::NotProtocol {
        expected,
        seen: text(line, MAX_SEEN),
        looks_like: sniff(head),
    }
}

/// What the first answer of the peer must start with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect {
    pub(crate) protocol: &'static str,
    pub(crate) prefixes: &'static [&'static [u8]],
}

/// Bounded input buffer: never more than [`MAX_TOTAL`] bytes in all; in line mode, never a
/// line longer than [`MAX_LINE`]; a first answer that cannot be the expected protocol fails
/// as soon as its first line (or [`MAX_SEEN`] bytes, or eof) is in.
#[derive(Debug)]
pub(crate) struct Inbox {
    buf: Vec<u8>,
    start: usize,
    total: usize,
    since_lf: usize,
    lines: bool,
    eof: bool,
    pub(crate) expect: Option<Expect>,
}

impl Inbox {
    pub(crate) fn new(lines: bool, expect: Expect) -> Self {
        Inbox {
            buf: Vec::new(),
            start: 0,
            total: 0,
            since_lf: 0,
            lines,
            eof: false,
            expect: Some(expect),
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        if self.total.saturating_add(bytes.len()) > MAX_TOTAL {
            return Err(Failure::TooMuchData { limit: MAX_TOTAL });
        }
        if let Some(e) = self.expect {
            let head: Vec<u8> = self
                .pending()
                .iter()
                .chain(bytes)
                .take(MAX_SEEN)
                .copied()
                .collect();
            if !compatible(&head, e.prefixes) && (head.len() >= MAX_SEEN || head.contains(&b'\n')) {
                return Err(not_protocol(e.protocol, &head));
            }
        }
        if self.lines {
            let mut run = self.since_lf;
            for &b in bytes {
                run = if b == b'\n' { 0 } else { run + 1 };
                if run > MAX_LINE {
                    return Err(Failure::LineTooLong { limit: MAX_LINE });
                }
            }
            self.since_lf = run;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // Grow by doubling, but never past MAX_TOTAL of capacity.
        let need = self.buf.len() + bytes.len();
        if need > self.buf.capacity() {
            let want = need.next_power_of_two().clamp(need, MAX_TOTAL.max(need));
            self.buf.reserve_exact(want - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
        self.total += bytes.len();
        Ok(())
    }

    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }

    /// The next complete line without its CR LF.
    pub(crate) fn take_line(&mut self) -> Option<Vec<u8>> {
        let pending = self.pending();
        let lf = pending.iter().position(|&b| b == b'\n')?;
        let line = pending[..lf]
            .strip_suffix(b"\r")
            .unwrap_or(&pending[..lf])
            .to_vec();
        self.consume(lf + 1);
        self.expect = None;
        Some(line)
    }

    pub(crate) fn set_eof(&mut self) {
        self.eof = true;
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.eof
    }

    /// The failure for an eof while more was needed in step `during`.
    pub(crate) fn eof_failure(&self, during: DialogueStep) -> Failure {
        match self.expect {
            Some(e) if !self.pending().is_empty() && !compatible(self.pending(), e.prefixes) => {
                not_protocol(e.protocol, self.pending())
            }
            _ => Failure::Closed { during },
        }
    }

    pub(crate) fn clear(&mut self) {
        self.buf = Vec::new();
        self.start = 0;
        self.since_lf = 0;
    }
}

/// State shared by every machine: input, output, transcript and the result.
#[derive(Debug)]
pub struct Core {
    pub(crate) inbox: Inbox,
    pub(crate) transcript: Transcript,
    outbox: Option<Vec<u8>>,
    failure: Option<Failure>,
    result: Result<(), Failure>,
    done: bool,
}

impl Core {
    pub(crate) fn new(lines: bool, expect: Expect) -> Self {
        Core {
            inbox: Inbox::new(lines, expect),
            transcript: Transcript::default(),
            outbox: None,
            failure: None,
            result: Err(Failure::Unfinished),
            done: false,
        }
    }

    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        if !self.done {
            if let Err(f) = self.inbox.push(bytes) {
                self.abort(f);
            }
        }
    }

    pub(crate) fn send(&mut self, bytes: Vec<u8>) {
        self.outbox = Some(bytes);
    }

    /// `Send` if something is queued, `Done` once finished.
    pub(crate) fn next_action(&mut self) -> Option<Action> {
        match self.outbox.take() {
            Some(bytes) => Some(Action::Send(bytes)),
            None if self.done => Some(Action::Done),
            None => None,
        }
    }

    /// Records `f` (the first failure wins); the machine may still close politely.
    pub(crate) fn fail(&mut self, f: Failure) {
        self.failure.get_or_insert(f);
    }

    /// Records `f` and ends the dialogue now, dropping anything queued to send.
    pub(crate) fn abort(&mut self, f: Failure) {
        self.fail(f);
        self.outbox = None;
        self.finish();
    }

    /// Ends the dialogue after the queued `Send`, if any.
    pub(crate) fn finish(&mut self) {
        self.done = true;
        self.inbox.clear();
        self.result = self.failure.take().map_or(Ok(()), Err);
    }

    /// The go-ahead was received: count and drop whatever is already buffered.
    pub(crate) fn begin_tls(&mut self) {
        let pending = self.inbox.pending();
        if !pending.is_empty() {
            self.transcript.injected_after_upgrade = pending.len();
            self.transcript.injected_preview = Some(text(pending, MAX_SEEN));
        }
        self.inbox.clear();
    }

    pub(crate) fn outcome(&self) -> Result<(), &Failure> {
        match &self.result {
            Ok(()) => Ok(()),
            Err(f) => Err(f),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }
}

/// Appends `item` (cut to [`MAX_CAP_LEN`]) unless present or the list is full.
pub(crate) fn add_capability(list: &mut Vec<String>, item: &str) {
    let item: String = item.chars().take(MAX_CAP_LEN).collect();
    if list.len() < MAX_CAPS && !list.contains(&item) {
        list.push(item);
    }
}

/// A scripted peer for the machines' unit tests.
#[cfg(test)]
pub(crate) mod script {
    use crate::probe::starttls::{Action, Dialogue};

    pub(crate) use crate::hex::encode as hex_string;

    /// Bytes from hex digits; anything else (spaces) is skipped.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: String = s.chars().filter(char::is_ascii_hexdigit).collect();
        crate::hex::decode(&digits).expect("an even number of hex digits")
    }

    /// Runs a fresh machine fed whole turns and another fed byte by byte; both must send,
    /// record and end the same. Returns the first and what it sent.
    pub(crate) fn both<D: Dialogue>(
        make: fn() -> D,
        turns: &[&[u8]],
        hex: bool,
    ) -> (D, Vec<String>) {
        let (mut whole, mut trickle) = (make(), make());
        let sent = run(&mut whole, turns, false, hex);
        assert_eq!(
            run(&mut trickle, turns, true, hex),
            sent,
            "trickle sent differently"
        );
        assert_eq!(
            trickle.transcript(),
            whole.transcript(),
            "trickle transcript differs"
        );
        assert_eq!(
            trickle.outcome(),
            whole.outcome(),
            "trickle outcome differs"
        );
        (whole, sent)
    }

    /// Runs `d` against a peer that answers each `Recv` with its next turn (or, with
    /// `trickle`, the next single byte), then eof. Returns what the client did: sent bytes
    /// as lossy text (LDAP: hex), and `<tls>` for each upgrade.
    pub(crate) fn run(
        d: &mut dyn Dialogue,
        turns: &[&[u8]],
        trickle: bool,
        hex: bool,
    ) -> Vec<String> {
        let mut bytes: Vec<Vec<u8>> = Vec::new();
        for t in turns {
            if trickle {
                bytes.extend(t.iter().map(|&b| vec![b]));
            } else {
                bytes.push(t.to_vec());
            }
        }
        let mut feed = bytes.into_iter();
        let mut log = Vec::new();
        for _ in 0..1_000_000 {
            match d.poll() {
                Action::Send(b) if hex => log.push(hex_string(&b)),
                Action::Send(b) => log.push(String::from_utf8_lossy(&b).trim_end().to_string()),
                Action::Recv => match feed.next() {
                    Some(b) => d.receive(&b),
                    None => d.eof(),
                },
                Action::StartTls => {
                    assert_eq!(d.buffered(), 0, "bytes left when StartTls is returned");
                    log.push("<tls>".into());
                    d.tls_established();
                }
                Action::Done => return log,
            }
        }
        panic!("the dialogue did not end");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_rejects_a_line_over_the_limit_without_keeping_it() {
        let imap = Expect {
            protocol: "imap",
            prefixes: &[b"* OK"],
        };
        let mut ok = Inbox::new(true, imap);
        let mut line = b"* OK ".to_vec();
        line.resize(MAX_LINE, b'x');
        assert_eq!(
            ok.push(&line),
            Ok(()),
            "exactly MAX_LINE bytes before the LF is fine"
        );
        assert_eq!(ok.push(b"y"), Err(Failure::LineTooLong { limit: MAX_LINE }));
        assert_eq!(
            ok.pending().len(),
            MAX_LINE,
            "the refused byte was not kept"
        );
        assert_eq!(
            ok.push(b"\n").map(|()| ok.take_line().map(|l| l.len())),
            Ok(Some(MAX_LINE))
        );
    }

    #[test]
    fn inbox_caps_the_total_and_its_capacity() {
        let any = Expect {
            protocol: "x",
            prefixes: &[b""],
        };
        let mut inbox = Inbox::new(false, any);
        assert_eq!(inbox.push(&vec![0; MAX_TOTAL - 1]), Ok(()));
        assert!(inbox.buf.capacity() <= MAX_TOTAL);
        assert_eq!(
            inbox.push(&[0, 0]),
            Err(Failure::TooMuchData { limit: MAX_TOTAL })
        );
        assert_eq!(inbox.push(&[0]), Ok(()));
        assert_eq!(inbox.pending().len(), MAX_TOTAL);
    }

    #[test]
    fn inbox_waits_for_a_line_before_calling_a_first_answer_foreign() {
        let pop = Expect {
            protocol: "pop3",
            prefixes: &[b"+OK", b"-ERR"],
        };
        let mut inbox = Inbox::new(true, pop);
        assert_eq!(inbox.push(b"SSH-2.0-"), Ok(()), "not yet a whole line");
        let err = inbox.push(b"OpenSSH_9.2\r\n");
        assert_eq!(
            err,
            Err(Failure::NotProtocol {
                expected: "pop3",
                seen: "SSH-2.0-OpenSSH_9.2".into(),
                looks_like: Some("ssh")
            })
        );
        let mut tls = Inbox::new(true, pop);
        assert_eq!(
            tls.push(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
            Ok(())
        );
        tls.set_eof();
        assert!(matches!(
            tls.eof_failure(DialogueStep::Greeting),
            Failure::NotProtocol {
                looks_like: Some("tls"),
                ..
            }
        ));
        let empty = Inbox::new(true, pop);
        assert_eq!(
            empty.eof_failure(DialogueStep::Greeting),
            Failure::Closed {
                during: DialogueStep::Greeting
            }
        );
    }

    #[test]
    fn text_is_lossy_and_capped() {
        assert_eq!(text(b"ab\xffc", 10), "ab\u{fffd}c");
        assert_eq!(text("ééé".as_bytes(), 2), "éé");
        let mut caps = Vec::new();
        for i in 0..MAX_CAPS + 5 {
            add_capability(&mut caps, &format!("X{i}"));
        }
        add_capability(&mut caps, "X0");
        assert_eq!(caps.len(), MAX_CAPS);
    }
}
