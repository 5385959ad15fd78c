//! `Content-Range`, `Range`, query strings and the page size `n`: every number a client
//! sends in a header or a query. Beyond "never panics" (which also catches overflow, since
//! cargo fuzz builds with debug assertions), each parse result is checked for sense.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wcomp_registry::handlers::{page_size, query_all, query_pairs, uploads};
use wcomp_registry::storage::parse_range;

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes are a blob size (to resolve a Range against), the rest the text.
    let (size, text) = match data.split_first_chunk::<8>() {
        Some((s, rest)) => (u64::from_le_bytes(*s), rest),
        None => (0, data),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Some((start, len)) = uploads::parse_content_range(text) {
        assert!(len >= 1);
        assert!(start.checked_add(len).is_some());
    }
    if let Ok(Some(r)) = parse_range(text, size) {
        assert!(r.start <= r.end && r.end < size, "{r:?} of {size}");
    }
    let pairs = query_pairs(Some(text));
    assert!(pairs.len() <= query_all(Some(text)).len());
    for max in [0, 1, 1000, u32::MAX] {
        if let Ok(n) = page_size(&pairs, max) {
            assert!(n <= max);
        }
    }
});
