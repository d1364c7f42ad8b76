//! trybuild cases for `profiled`'s macros live in `tests/`; run them with
//! `cargo test -p profiled-ui-tests`. After an intended change to an error message,
//! regenerate the `.stderr` snapshots with `TRYBUILD=overwrite cargo test -p profiled-ui-tests`
//! and review the diff. The toolchain is pinned in `rust-toolchain.toml` so the
//! snapshots are stable.
