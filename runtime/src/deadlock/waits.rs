//! COLD: who waits for what right now. A bounded, lock-free table of the waits in
//! progress on profiled locks: a waiter claims a slot when it starts to block (after
//! its spin) and frees it once it acquired or gave up, before it returns, so a slot
//! only ever points at a lock that is alive.
//!
//! Readers (dumps and the deadlock detector) copy a slot under a handshake: they set
//! the slot's `READING` bit, copy the wait and read the lock's [`Holder`], and clear
//! the bit; a waiter leaving meanwhile spins until the bit is clear, so the lock
//! cannot be freed under the reader. Every step is a few loads or stores.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::owner::{Holder, Identity};

/// Waits tracked at once; more are not shown in dumps and counted as dropped.
pub(crate) const WAIT_SLOTS: usize = 4096;

/// Low bits of a slot's `lock` word (holders are 8-aligned).
const CLAIMED: usize = 1;
const READING: usize = 2;
const BITS: usize = CLAIMED | READING;

/// How a waiter wants the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Exclusively: a mutex, a writer.
    Exclusive,
    /// Shared: a reader.
    Shared,
    /// As the upgradable reader.
    Upgradable,
    /// The upgradable reader, for the readers to leave so it can write: it owns
    /// the lock itself, and waits for nobody in particular.
    Upgrading,
}

impl Mode {
    /// Every mode, by the word a slot stores (its index here).
    const BY_WORD: [Mode; 4] = [
        Mode::Exclusive,
        Mode::Shared,
        Mode::Upgradable,
        Mode::Upgrading,
    ];

    /// True when a waiter in this mode gets the lock only once every holder has
    /// released it (a writer, a mutex, an upgrade), so its acquisition follows a
    /// release that settled the books if that release saw it waiting.
    pub(crate) fn waits_for_all(self) -> bool {
        matches!(self, Mode::Exclusive | Mode::Upgrading)
    }

    fn word(self) -> u64 {
        Mode::BY_WORD.iter().position(|&m| m == self).unwrap_or(0) as u64
    }

    fn of_word(word: u64) -> Mode {
        usize::try_from(word)
            .ok()
            .and_then(|i| Mode::BY_WORD.get(i).copied())
            .unwrap_or(Mode::Exclusive)
    }
}

struct Slot {
    /// The [`Holder`]'s address; `CLAIMED` alone while being filled; 0 when free.
    lock: AtomicUsize,
    waiter: AtomicU64,
    /// Ticks at which the wait began.
    since: AtomicU64,
    mode: AtomicU64,
}

static SLOTS: [Slot; WAIT_SLOTS] = [const {
    Slot {
        lock: AtomicUsize::new(0),
        waiter: AtomicU64::new(0),
        since: AtomicU64::new(0),
        mode: AtomicU64::new(0),
    }
}; WAIT_SLOTS];

/// Where a thread's first claim starts looking (Relaxed: a hint). Each thread then
/// starts from the slot it claimed last ([`HINT`]), and threads start
/// [`THREAD_STRIDE`] slots apart, so threads claiming at once touch their own cache
/// lines instead of all bumping one shared counter and neighbouring slots.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Slots between the first claims of successive threads (16 x 32 bytes: 512 bytes).
const THREAD_STRIDE: usize = 16;

/// No hint yet: this thread's first claim takes one from [`NEXT`].
const NO_HINT: usize = usize::MAX;

thread_local! {
    /// The slot after the one this thread claimed last.
    static HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(NO_HINT) };
}

/// Where this thread's claim starts looking.
fn first_slot() -> usize {
    let hint = HINT.try_with(std::cell::Cell::get).unwrap_or(NO_HINT);
    if hint != NO_HINT {
        return hint;
    }
    NEXT.fetch_add(THREAD_STRIDE, Ordering::Relaxed) % WAIT_SLOTS
}
/// Waits that found every slot taken (Relaxed: a statistic).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// One registered wait; unregisters when dropped.
#[must_use = "the wait is unregistered when this is dropped"]
pub(crate) struct Registered {
    slot: Option<&'static Slot>,
}

#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
impl Registered {
    /// No wait registered.
    pub(crate) const fn none() -> Registered {
        Registered { slot: None }
    }

    /// Whether a wait is registered.
    pub(crate) fn is_some(&self) -> bool {
        self.slot.is_some()
    }

    /// When the registered wait began (ticks), if one is.
    pub(crate) fn since(&self) -> Option<u64> {
        // Relaxed: the slot's fields are this wait's own, written by its claim.
        self.slot.map(|slot| slot.since.load(Ordering::Relaxed))
    }
}

/// Registers that `waiter` waits since `since` (ticks) for the lock of `holder`, in
/// `mode` (and stamps the hold as at least that old, see [`Holder::waiter_arrived`]). `holder` must stay alive until the returned guard is dropped (it is part
/// of the lock the caller is blocked on).
pub(crate) fn register(holder: &Holder, waiter: Identity, since: u64, mode: Mode) -> Registered {
    holder.waiter_arrived(since);
    let address = std::ptr::from_ref(holder) as usize;
    debug_assert_eq!(address & BITS, 0);
    let start = first_slot();
    for offset in 0..WAIT_SLOTS {
        let index = (start + offset) % WAIT_SLOTS;
        let slot = &SLOTS[index];
        if slot
            .lock
            .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            slot.waiter.store(waiter, Ordering::Relaxed);
            slot.since.store(since, Ordering::Relaxed);
            slot.mode.store(mode.word(), Ordering::Relaxed);
            // Release: publishes the fields above to readers' Acquire.
            slot.lock.store(address, Ordering::Release);
            // The next claim starts after this one: on a runtime's worker, many
            // tasks wait at once, and this slot stays taken until this wait ends
            // (or until a wait ending on this thread hands its slot back, see
            // `Registered::drop`).
            let _ = HINT.try_with(|hint| hint.set((index + 1) % WAIT_SLOTS));
            return Registered { slot: Some(slot) };
        }
    }
    DROPPED.fetch_add(1, Ordering::Relaxed);
    Registered { slot: None }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let mut spins = 0u32;
        loop {
            let current = slot.lock.load(Ordering::Relaxed);
            if current & READING == 0
                && slot
                    .lock
                    .compare_exchange(current, 0, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
            {
                // This thread's next claim tries this slot first: its line is in
                // this core's cache now. Claims that only ever moved on cycled
                // through the whole table (128 KiB), one cold line per wait.
                let index = (std::ptr::from_ref(slot) as usize - SLOTS.as_ptr() as usize)
                    / std::mem::size_of::<Slot>();
                let _ = HINT.try_with(|hint| hint.set(index));
                return;
            }
            // A reader is copying this slot: a few loads.
            spins += 1;
            if spins < 128 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A wait in progress, as copied from the table, with what its lock's holder record
/// said at that moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    pub waiter: Identity,
    /// Ticks at which the wait began.
    pub since: u64,
    pub mode: Mode,
    /// The lock, as its holder record's address (an identity only).
    pub lock: usize,
    pub site: Option<&'static crate::site::LockSite>,
    pub kind: super::owner::Kind,
    /// The lock's exclusive owner then; 0 for none (free, or held shared).
    pub owner: Identity,
    /// When the owner's hold began (ticks), and whether exactly.
    pub held_since: Option<(u64, bool)>,
}

/// Sets `slot`'s `READING` bit and returns the holder address it shows, or `None`
/// when it holds no wait. Another reader's copy is waited out (a few loads), not
/// skipped: two readers at once must both see every wait, or a finding would seem to
/// end and start again.
fn begin_read(slot: &Slot) -> Option<usize> {
    let mut spins = 0u32;
    loop {
        let current = slot.lock.load(Ordering::Acquire);
        if current == 0 || current & CLAIMED != 0 {
            return None;
        }
        if current & READING == 0 {
            // Acquire: pairs with the claim's Release, so the fields are the wait's.
            match slot.lock.compare_exchange(
                current,
                current | READING,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(current),
                Err(_) => continue,
            }
        }
        spins += 1;
        if spins < 128 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Every wait in progress now.
pub(crate) fn snapshot() -> Vec<Wait> {
    let mut waits = Vec::new();
    for slot in &SLOTS {
        let Some(current) = begin_read(slot) else {
            continue; // free, being filled, or it just left: not waiting
        };
        // SAFETY: the slot held this address with READING set, and a waiter frees its
        // slot (which waits for READING to clear) before its wait returns; the lock,
        // which contains the holder, outlives every wait on it.
        let holder = unsafe { &*(current as *const Holder) };
        let mode = Mode::of_word(slot.mode.load(Ordering::Relaxed));
        waits.push(Wait {
            waiter: slot.waiter.load(Ordering::Relaxed),
            since: slot.since.load(Ordering::Relaxed),
            mode,
            lock: current,
            site: holder.site(),
            kind: holder.kind(),
            owner: holder.owner(),
            held_since: holder.held_since(),
        });
        slot.lock.store(current, Ordering::Release);
    }
    waits
}

/// Waits that were not tracked because every slot was taken.
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::super::owner::Kind;
    use super::*;

    #[test]
    fn modes_survive_the_slot_word() {
        for mode in Mode::BY_WORD {
            assert_eq!(Mode::of_word(mode.word()), mode);
        }
        assert_eq!(Mode::of_word(99), Mode::Exclusive);
    }

    #[test]
    fn a_registered_wait_is_seen_with_its_lock_owner_until_it_ends() {
        let holder = Holder::new(None, Kind::Mutex);
        holder.own(11);
        let mine = |waits: Vec<Wait>| -> Vec<Wait> {
            waits
                .into_iter()
                .filter(|w| w.lock == std::ptr::from_ref(&holder) as usize)
                .collect()
        };
        let registered = register(&holder, 22, 1000, Mode::Shared);
        let seen = mine(snapshot());
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].waiter, seen[0].since, seen[0].mode, seen[0].owner),
            (22, 1000, Mode::Shared, 11)
        );
        drop(registered);
        assert!(mine(snapshot()).is_empty());
    }

    #[test]
    fn a_thread_claims_the_slot_its_last_wait_left() {
        let holder = Holder::new(None, Kind::Mutex);
        let slot_of = |registered: &Registered| registered.slot.map(std::ptr::from_ref);
        let first = register(&holder, 1, 10, Mode::Exclusive);
        let second = register(&holder, 2, 20, Mode::Exclusive);
        // Two waits at once take two slots; the one that ends first is reused.
        assert_ne!(slot_of(&first), slot_of(&second));
        let left = slot_of(&first);
        drop(first);
        let third = register(&holder, 3, 30, Mode::Exclusive);
        assert_eq!(slot_of(&third), left);
        drop((second, third));
    }

    #[test]
    fn waits_leave_while_readers_copy() {
        let holder = Box::leak(Box::new(Holder::new(None, Kind::RwLock)));
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for waiter in 1..=4u64 {
                let holder = &*holder;
                let stop = &stop;
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _wait = register(holder, waiter, waiter, Mode::Exclusive);
                    }
                });
            }
            for _ in 0..2000 {
                for wait in snapshot() {
                    assert!(wait.waiter <= 4 || wait.lock != std::ptr::from_ref(holder) as usize);
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        let address = std::ptr::from_ref(holder) as usize;
        assert!(snapshot().iter().all(|w| w.lock != address));
    }
}
