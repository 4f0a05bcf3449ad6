//! The IMAP machine (STARTTLS and implicit) fed arbitrary server bytes in arbitrary chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mssp_check::probe::starttls::imap::Imap;

mod drive;

fuzz_target!(|data: &[u8]| {
    drive::run(Imap::starttls(), data);
    drive::run(Imap::implicit(), data);
});
