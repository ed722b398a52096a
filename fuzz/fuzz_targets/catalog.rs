//! The catalog loader on arbitrary text, as YAML and as JSON: never a panic or a hang, and a
//! catalog that passes the checks must compile into the engine's matcher and classify a line
//! (a checked catalog the engine cannot run would be a bug in the checks).
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost::config::signatures::{check_catalog, parse_text, RawCatalog, RawGrouping};
use outpost::config::Problems;
use outpost::engine::matcher::{Matcher, SlowWork};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for json in [false, true] {
        let Ok(raw) = parse_text::<RawCatalog>(text, json) else { continue };
        let mut p = Problems::default();
        if let Some(cat) = check_catalog(&mut p, "", &raw, &RawGrouping::default(), String::new()) {
            assert!(p.is_empty());
            let m = Matcher::new(&cat, 4096).expect("a checked catalog compiles");
            let _ = m.classify("socket hang up during query 0x1f", &mut SlowWork::default());
        } else {
            assert!(!p.is_empty(), "a refused catalog says why");
        }
    }
});
