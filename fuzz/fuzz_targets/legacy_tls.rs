//! The legacy look's TLS record reader (the `Flight` that `legacy::ask` reads through) fed
//! arbitrary server bytes, whole and in chunks: the answer must not depend on the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mssp_check::probe::legacy::{Answer, Flight, MAX_READ};

fuzz_target!(|data: &[u8]| {
    // The first byte says how long each chunk is.
    let size = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let bytes = data.get(1..).unwrap_or_default();
    // Past the read limit the split decides where reading stops; -max_len keeps below it.
    if bytes.len() >= MAX_READ {
        return;
    }
    let mut whole = Flight::new();
    let whole_settled = whole.feed(bytes);
    let whole = whole.answer();

    let mut chunked = Flight::new();
    let mut settled = false;
    for c in bytes.chunks(size) {
        settled = chunked.feed(c);
        if settled {
            break;
        }
    }
    assert_eq!(settled, whole_settled, "settled depends on the split");
    let chunked = chunked.answer();
    assert_eq!(chunked, whole, "the answer depends on the split");
    if let Answer::Hello { chain, .. } = &whole {
        let held: usize = chain.iter().map(Vec::len).sum();
        assert!(held <= bytes.len(), "a chain longer than the input");
    }
});
