//! Static per-callsite records, registered with `inventory` so that every named lock
//! and every `#[profiled]` function is known before its first use: `lock.rs` for
//! locks, `function.rs` for functions. Hot paths add to their atomics; readers take
//! snapshots.

mod function;
mod lock;

pub use function::{FnKind, FnSite, FnSiteRef, FunctionStats, functions};
pub use lock::{LockKind, LockSite, LockSiteRef, LockSiteStats, lock_sites};
