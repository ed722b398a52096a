//! The canonicalizers on arbitrary text: never a panic, at most 200 characters, lower case,
//! the same answer twice (fingerprints must be stable), and both versions idempotent on
//! their own output's length bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost::config::signatures::Canonicalization;
use outpost::engine::canon::{canonical, fingerprint, MAX_CHARS};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for v in [Canonicalization::Spec, Canonicalization::V1] {
        let c = canonical(v, &text);
        assert!(c.chars().count() <= MAX_CHARS, "{v:?}: {} chars", c.chars().count());
        assert_eq!(c, c.to_lowercase());
        assert_eq!(c, canonical(v, &text), "deterministic");
        let f = fingerprint("cat", &c);
        assert_eq!(f.len(), 12);
        assert!(f.bytes().all(|b| b.is_ascii_hexdigit()));
    }
});
