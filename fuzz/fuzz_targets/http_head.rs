//! The HTTP response-head parser fed arbitrary bytes in arbitrary chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mssp_check::probe::http::HttpResponse;

fuzz_target!(|data: &[u8]| {
    let mut r = HttpResponse::new();
    for chunk in drive_chunks(data) {
        if r.is_done() {
            break;
        }
        r.receive(chunk);
    }
    r.eof();
    let _ = r.step();
    if let Ok(head) = r.outcome() {
        let _ = head.auth_schemes();
        let _ = head.proxy_auth_schemes();
        let _ = head.server();
    }
});

/// The first byte says how long each chunk is.
fn drive_chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let size = usize::from(data.first().copied().unwrap_or(1)).max(1);
    data.get(1..).unwrap_or_default().chunks(size)
}
