//! Detects whether this build keeps frame pointers, so stack capture can walk them
//! (about 65 ns for 15 frames on the CI machine) instead of unwinding with DWARF
//! tables (about 2.6 us); see BENCHMARKS.md.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(profiled_frame_pointers)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // Flags arrive separated by 0x1f; "-C force-frame-pointers=yes" may be split in two.
    let joined = flags.replace('\u{1f}', " ");
    let enabled = ["yes", "on", "true", "y", "always"]
        .iter()
        .any(|v| joined.contains(&format!("force-frame-pointers={v}")))
        || joined
            .split(' ')
            .any(|flag| flag.trim_start_matches("-C") == "force-frame-pointers");
    if enabled {
        println!("cargo::rustc-cfg=profiled_frame_pointers");
    }
}
