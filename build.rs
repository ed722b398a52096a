//! Records the target triple so `outpost --version` and `outpost_build_info` can say which
//! build is running on a gateway (cargo only tells build scripts).
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=OUTPOST_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
