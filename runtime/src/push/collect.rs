//! One push round's profiles: CPU over the round, deltas since the previous round of
//! `allocs` (as godeltaprof's `memory`), `block` and `mutex`, and `goroutine`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use prost::Message;

use super::config::PushConfig;
use super::wire::{LabelPair, PushRequest, RawProfileSeries, RawSample, uuid};
use super::{COUNTERS, set_last_error};
use crate::cpu::{CpuError, CpuSession};
use crate::profile::{Profile, proto};
use crate::profiles::{NamedProfile, ProfileSnapshot};

/// A cumulative profile pushed as its difference since the previous round.
struct Delta {
    /// Pyroscope's `__name__` of the series.
    series: &'static str,
    profile: NamedProfile,
    previous: ProfileSnapshot,
    /// The in-use values stay absolute (godeltaprof's heap).
    absolute_inuse: bool,
}

/// What the push thread collects each round.
pub(crate) struct Collector {
    labels: Vec<LabelPair>,
    /// `None` when CPU profiling is disabled.
    cpu_hz: Option<i32>,
    deltas: Vec<Delta>,
}

impl Collector {
    /// `cpu_hz` is `None` when the CPU profile is disabled; `memory` when memory
    /// profiling is on and the allocator is installed.
    pub(crate) fn new(config: &PushConfig, cpu_hz: Option<i32>, memory: bool) -> Collector {
        let mut labels = vec![LabelPair::new("service_name", &config.service_name)];
        labels.extend(config.labels.iter().map(|(k, v)| LabelPair::new(k, v)));
        let mut kinds = vec![("block", "block", false), ("mutex", "mutex", false)];
        if memory && crate::alloc::sampler::installed() {
            kinds.insert(0, ("memory", "allocs", true));
        }
        let deltas = kinds
            .into_iter()
            .filter_map(|(series, name, absolute_inuse)| {
                let profile = crate::profiles::lookup(name)?;
                Some(Delta {
                    series,
                    previous: profile.snapshot(),
                    profile,
                    absolute_inuse,
                })
            })
            .collect();
        Collector {
            labels,
            cpu_hz,
            deltas,
        }
    }

    /// Collects one round: the CPU profile runs until `cpu_until`, waited with
    /// `sleep` (true when the pusher is stopping: then `None`). Returns the encoded
    /// `PushRequest`.
    pub(crate) fn round(
        &mut self,
        cpu_until: Instant,
        sleep: impl Fn(Instant) -> bool,
    ) -> Option<Vec<u8>> {
        let mut profiles: Vec<(&'static str, Profile)> = Vec::new();
        let session = self.cpu_hz.and_then(|hz| match CpuSession::start(hz) {
            Ok(session) => Some(session),
            Err(CpuError::InUse) => {
                COUNTERS.cpu_skipped.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(CpuError::Sampler(e)) => {
                set_last_error(format!("push: could not start the CPU profile: {e}"));
                None
            }
        });
        if sleep(cpu_until) {
            return None; // `session` stops sampling as it drops
        }
        if let Some(session) = session {
            profiles.push(("process_cpu", session.finish()));
        }
        for delta in &mut self.deltas {
            let now = delta.profile.snapshot();
            let profile = if delta.absolute_inuse {
                delta.profile.godelta_profile(&delta.previous, &now)
            } else {
                delta.profile.delta_profile(&delta.previous, &now)
            };
            delta.previous = now;
            profiles.push((delta.series, profile));
        }
        if let Some(goroutine) = crate::profiles::lookup("goroutine") {
            profiles.push(("goroutine", goroutine.profile_of(&goroutine.snapshot())));
        }
        let series = profiles
            .into_iter()
            .filter_map(|(name, profile)| {
                let mut raw = Vec::new();
                if let Err(e) = proto::write(&profile, &mut raw) {
                    set_last_error(format!("push: could not encode {name}: {e}"));
                    return None;
                }
                let mut labels = vec![LabelPair::new("__name__", name)];
                labels.extend(self.labels.iter().cloned());
                Some(RawProfileSeries {
                    labels,
                    samples: vec![RawSample {
                        raw_profile: raw,
                        id: uuid(),
                    }],
                })
            })
            .collect();
        Some(PushRequest { series }.encode_to_vec())
    }
}
