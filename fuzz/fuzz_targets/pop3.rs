//! The POP3 machine (STLS and implicit) fed arbitrary server bytes in arbitrary chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mssp_check::probe::starttls::pop3::Pop3;

mod drive;

fuzz_target!(|data: &[u8]| {
    drive::run(Pop3::stls(), data);
    drive::run(Pop3::implicit(), data);
});
