//! One push round's profiles: CPU over the round, godeltaprof deltas since the
//! previous round of `allocs` (as `memory`), `block` and `mutex`, and `goroutine`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use prost::Message;

use super::config::PushConfig;
use super::wire::{LabelPair, PushRequest, RawProfileSeries, RawSample, uuid};
use super::{COUNTERS, set_last_error};
use crate::cpu::{CpuError, Kind, Session};
use crate::named::{GodeltaState, NamedProfile, Output};
use crate::profile::{Document, Encoding};

/// The proto, as every pushed profile is.
const PROTO: Output = Output::Go { debug: 0 };

/// A cumulative profile pushed as its difference since the previous round.
struct Delta {
    /// Pyroscope's `__name__` of the series.
    series: &'static str,
    profile: NamedProfile,
    /// The previous round's snapshot (the pusher's own: scrapes of `delta_*` keep
    /// theirs).
    state: GodeltaState,
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
    /// profiling is on (pushed only with the allocator installed).
    pub(crate) fn new(config: &PushConfig, cpu_hz: Option<i32>, memory: bool) -> Collector {
        let mut labels = vec![LabelPair::new("service_name", &config.service_name)];
        labels.extend(config.labels.iter().map(|(k, v)| LabelPair::new(k, v)));
        let mut kinds = vec![("block", "block"), ("mutex", "mutex")];
        if memory && crate::alloc::installed() {
            kinds.insert(0, ("memory", "allocs"));
        }
        let deltas = kinds
            .into_iter()
            .filter_map(|(series, name)| {
                let profile = crate::named::lookup(name)?;
                let mut state = None;
                // The first push counts from now, not from the process's start.
                drop(profile.godelta(&mut state, PROTO));
                Some(Delta {
                    series,
                    profile,
                    state,
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
        let mut documents: Vec<(&'static str, Document)> = Vec::new();
        let session = self
            .cpu_hz
            .and_then(|hz| match Session::start(Kind::Cpu, hz) {
                Ok(session) => Some(session),
                Err(CpuError::InUse) => {
                    COUNTERS.cpu_skipped.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(e) => {
                    set_last_error(format!("push: could not start the CPU profile: {e}"));
                    None
                }
            });
        if sleep(cpu_until) {
            return None; // `session` stops sampling as it drops
        }
        if let Some(session) = session {
            documents.push((
                "process_cpu",
                Document::Profile(session.finish(), Encoding::Proto),
            ));
        }
        for delta in &mut self.deltas {
            documents.push((delta.series, delta.profile.godelta(&mut delta.state, PROTO)));
        }
        if let Some(goroutine) = crate::named::lookup("goroutine") {
            documents.push(("goroutine", goroutine.document(PROTO)));
        }
        let series = documents
            .into_iter()
            .filter_map(|(name, document)| {
                let raw = document
                    .to_bytes()
                    .map_err(|e| set_last_error(format!("push: could not encode {name}: {e}")))
                    .ok()?;
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
