//! The LDAP machine, whose answers go through the BER reader, fed arbitrary server bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mssp_check::probe::starttls::ldap::Ldap;

mod drive;

fuzz_target!(|data: &[u8]| {
    drive::run(Ldap::starttls(), data);
    drive::run(Ldap::implicit(), data);
});
