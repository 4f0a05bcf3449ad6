//! Drives a STARTTLS machine as the probe's driver does, with the fuzz input as the server's
//! bytes: the first byte sets the chunk size, and the machine must end within a bounded
//! number of steps.

use mssp_check::probe::starttls::{Action, Dialogue};

pub fn run<D: Dialogue>(mut machine: D, data: &[u8]) {
    let size = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut chunks = data.get(1..).unwrap_or_default().chunks(size);
    let mut tls = false;
    for _ in 0..100_000 {
        match machine.poll() {
            Action::Send(_) => {}
            Action::Recv => match chunks.next() {
                Some(c) => machine.receive(c),
                None => machine.eof(),
            },
            Action::StartTls => {
                assert_eq!(
                    machine.buffered(),
                    0,
                    "bytes buffered across the TLS boundary"
                );
                assert!(!tls, "STARTTLS twice");
                tls = true;
                machine.tls_established();
            }
            Action::Done => {
                let _ = machine.outcome();
                let _ = machine.transcript();
                return;
            }
        }
    }
    panic!("the machine did not finish in 100000 steps");
}
