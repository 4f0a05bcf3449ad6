//! What the server sends back to the legacy `ClientHello`, read from its bytes without I/O:
//! TLS records unwrapped, the `ServerHello` and `Certificate` messages parsed, every length
//! checked against what came.

use super::Answer;

/// At most this much is read back (a long chain fits; a hostile peer cannot make it more).
pub const MAX_READ: usize = 192 * 1024;

/// The server's answer to the legacy `ClientHello`, read from its bytes as they come: TLS
/// records unwrapped, handshake messages parsed, until the chain is in, an alert or a
/// `ServerHelloDone` comes, or [`MAX_READ`] bytes end it. [`ask`](super::ask) feeds it what it reads;
/// the fuzzer (`fuzz/fuzz_targets/legacy_tls.rs`) feeds it arbitrary bytes.
///
/// The answer is fixed at the first record that settles it, whatever follows, so it does
/// not depend on how the bytes were split into reads.
#[derive(Debug, Default)]
pub struct Flight {
    /// Bytes read and not yet a whole record.
    inbox: Vec<u8>,
    /// Every byte fed, against [`MAX_READ`].
    read: usize,
    handshake: Handshake,
    /// An answer that ended it before a `ServerHello` and chain: an alert, malformed input.
    end: Option<Answer>,
}

/// The handshake messages, unwrapped from their records.
#[derive(Debug, Default)]
struct Handshake {
    /// Bytes of messages not yet whole (a message may span records).
    pending: Vec<u8>,
    version: Option<u16>,
    suite: Option<u16>,
    chain: Option<Vec<Vec<u8>>>,
    /// `ServerHelloDone` came: nothing more is coming before our key exchange.
    done: bool,
}

impl Flight {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes from the server; true once the answer is settled (more bytes
    /// change nothing, so stop reading).
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.settled() {
            return true;
        }
        self.read = self.read.saturating_add(bytes.len());
        self.inbox.extend_from_slice(bytes);
        self.records();
        if !self.settled() && self.read >= MAX_READ {
            self.end = Some(Answer::Nothing(format!(
                "more than {} KiB without a chain",
                MAX_READ / 1024
            )));
        }
        self.settled()
    }

    /// The answer from what came: the settled one, or, when the server closed or went
    /// silent first, its `ServerHello` (with the chain if it came).
    #[must_use]
    pub fn answer(self) -> Answer {
        if let Some(end) = self.end {
            return end;
        }
        match (self.handshake.version, self.handshake.suite) {
            (Some(version), Some(suite)) => Answer::Hello {
                version,
                suite,
                chain: self.handshake.chain.unwrap_or_default(),
            },
            _ => Answer::Nothing("no ServerHello".into()),
        }
    }

    fn settled(&self) -> bool {
        self.end.is_some() || self.handshake.complete()
    }

    /// Whole records out of the inbox, until one settles the answer. An offset walks the
    /// inbox and one drain ends it: draining per record made many tiny records quadratic.
    fn records(&mut self) {
        let mut at = 0;
        while !self.settled() {
            let Some(&[kind, _, _, hi, lo]) = self.inbox.get(at..at + 5) else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let Some(body) = self.inbox.get(at + 5..at + 5 + len) else {
                break;
            };
            at += 5 + len;
            match (kind, body) {
                (0x15, &[_, description, ..]) => self.end = Some(Answer::Alert { description }),
                (0x16, _) => {
                    if let Err(e) = self.handshake.take(body) {
                        self.end = Some(Answer::Nothing(e));
                    }
                }
                _ => {
                    self.end = Some(Answer::Nothing(format!(
                        "not a TLS handshake record (type {kind})"
                    )));
                }
            }
        }
        self.inbox.drain(..at);
    }
}

impl Handshake {
    /// Adds a handshake record's body and parses the messages now whole, until the answer
    /// is complete.
    fn take(&mut self, record: &[u8]) -> Result<(), String> {
        self.pending.extend_from_slice(record);
        let mut at = 0;
        let parsed = loop {
            if self.complete() {
                break Ok(());
            }
            let Some(&[kind, a, b, c]) = self.pending.get(at..at + 4) else {
                break Ok(());
            };
            let Some(body) = self.pending.get(at + 4..at + 4 + u24([a, b, c])) else {
                break Ok(());
            };
            at += 4 + body.len();
            match kind {
                2 => match server_hello(body) {
                    Ok((version, suite)) => {
                        self.version = Some(version);
                        self.suite = Some(suite);
                    }
                    Err(e) => break Err(e),
                },
                11 => match parse_chain(body) {
                    Ok(chain) => self.chain = Some(chain),
                    Err(e) => break Err(e),
                },
                14 => self.done = true,
                _ => {}
            }
        };
        self.pending.drain(..at);
        parsed
    }

    fn complete(&self) -> bool {
        self.done || (self.version.is_some() && self.chain.is_some())
    }
}

fn u24(b: [u8; 3]) -> usize {
    usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2])
}

/// `ServerHello`: version, random\[32\], session id, suite.
fn server_hello(body: &[u8]) -> Result<(u16, u16), String> {
    let short = || "short ServerHello".to_string();
    let &[v0, v1] = body.get(..2).ok_or_else(short)? else {
        return Err(short());
    };
    let sid = usize::from(*body.get(34).ok_or_else(short)?);
    let &[s0, s1] = body.get(35 + sid..37 + sid).ok_or_else(short)? else {
        return Err(short());
    };
    Ok((u16::from_be_bytes([v0, v1]), u16::from_be_bytes([s0, s1])))
}

/// `certificate_list<0..2^24-1>` of `ASN.1Cert<1..2^24-1>`.
fn parse_chain(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let len_at = |b: &[u8], what: &str| match b.get(..3) {
        Some(&[x, y, z]) => Ok(u24([x, y, z])),
        _ => Err(format!("short {what}")),
    };
    let total = len_at(body, "Certificate")?;
    let mut rest = body.get(3..3 + total).ok_or("short Certificate")?;
    let mut chain = Vec::new();
    while !rest.is_empty() {
        let len = len_at(rest, "certificate entry")?;
        chain.push(rest.get(3..3 + len).ok_or("short certificate")?.to_vec());
        rest = rest.get(3 + len..).unwrap_or_default();
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::legacy::tests::flight;

    fn read(bytes: &[u8], chunk: usize) -> (bool, Answer) {
        let mut f = Flight::new();
        let mut settled = false;
        for c in bytes.chunks(chunk) {
            settled = f.feed(c);
        }
        (settled, f.answer())
    }

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 1];
        r.extend_from_slice(&u16::try_from(body.len()).expect("len").to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn the_answer_does_not_depend_on_how_the_bytes_are_split() {
        let certs: [&[u8]; 2] = [b"leaf-der", b"ca-der"];
        let mut bytes = flight(0x0302, 0x0035, &certs);
        // An alert after the chain changes nothing: the answer was settled before it.
        bytes.extend_from_slice(&record(0x15, &[2, 40]));
        let want = Answer::Hello {
            version: 0x0302,
            suite: 0x0035,
            chain: vec![b"leaf-der".to_vec(), b"ca-der".to_vec()],
        };
        for chunk in [1, 2, 5, 7, 64, bytes.len()] {
            assert_eq!(
                read(&bytes, chunk),
                (true, want.clone()),
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_hello_without_its_chain_is_read_when_the_server_stops() {
        // A ServerHello record, then a record with half a Certificate message.
        let mut hello = vec![2, 0, 0, 38, 3, 3];
        hello.extend_from_slice(&[7; 32]);
        hello.extend_from_slice(&[0, 0, 0x9c, 0]);
        let mut bytes = record(0x16, &hello);
        bytes.extend_from_slice(&record(0x16, &[11, 0, 0, 9, 0, 0, 6]));
        let (settled, answer) = read(&bytes, 3);
        assert!(!settled, "more could come");
        assert_eq!(
            answer,
            Answer::Hello {
                version: 0x0303,
                suite: 0x009c,
                chain: Vec::new()
            }
        );
        let done_only = record(0x16, &[14, 0, 0, 0]);
        assert_eq!(
            read(&done_only, 1),
            (true, Answer::Nothing("no ServerHello".into()))
        );
    }

    #[test]
    fn malformed_messages_and_records_end_it() {
        // A Certificate whose one entry claims more than the list holds.
        let cert = record(0x16, &[11, 0, 0, 7, 0, 0, 4, 0, 0, 9, 1]);
        let short_hello = record(0x16, &[2, 0, 0, 3, 3, 3, 0]);
        let tiny_alert = record(0x15, &[2]);
        for (bytes, want) in [
            (cert, "short certificate"),
            (short_hello, "short ServerHello"),
            (tiny_alert, "not a TLS handshake record (type 21)"),
        ] {
            assert_eq!(read(&bytes, 4), (true, Answer::Nothing(want.into())));
        }
    }

    #[test]
    fn endless_empty_records_stop_at_the_read_limit() {
        // 5-byte records with nothing in them: each is whole, none settles anything.
        let bytes: Vec<u8> = record(0x16, &[]).repeat(MAX_READ / 5 + 1);
        let (settled, answer) = read(&bytes, 16 * 1024);
        assert!(settled);
        assert_eq!(
            answer,
            Answer::Nothing(format!("more than {} KiB without a chain", MAX_READ / 1024))
        );
    }
}
