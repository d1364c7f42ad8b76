//! Hooks for the benches and fuzz targets, kept out of the crate root so that
//! `__private` is exactly what the macros emit. Not public API: thin wrappers over
//! crate internals that may change in any release.

/// Entry points for the criterion benches in `runtime/benches` and for tests that
/// measure the dump machinery.
#[doc(hidden)]
pub mod __bench {
    /// Records one mutex-profile event for each of `n` distinct stacks, made from
    /// the caller's real stack with its innermost frame replaced by successive code
    /// addresses of `base`, so that encoding has `n` real addresses to symbolize.
    /// Returns how many were recorded. For the `encode` bench.
    pub fn fill_mutex_profile(n: usize, base: usize) -> usize {
        let registry = crate::registry::get();
        let mut frames = crate::stack::Stack::capture(|stack| stack.frames().to_vec());
        if frames.is_empty() {
            return 0;
        }
        (0..n)
            .filter(|i| {
                frames[0] = base + i;
                let id = registry.stacks.intern(&frames);
                registry.mutex.add(id, crate::registry::COUNT_SCALE, 1_000);
                id.is_some()
            })
            .count()
    }

    /// Captures the caller's stack with this build's unwinder; returns its depth.
    /// For the `locks` bench.
    pub fn capture_stack_depth() -> usize {
        crate::stack::Stack::capture(|stack| stack.frames().len())
    }

    /// Takes a thread dump and returns (threads listed, threads with a stack, time the
    /// capture took). For the dump stress test and its latency numbers.
    pub fn thread_dump_summary() -> (usize, usize, std::time::Duration) {
        let dump = crate::thread::dump::take();
        let with_stack = dump.threads.iter().filter(|t| !t.frames.is_empty()).count();
        (dump.threads.len(), with_stack, dump.elapsed)
    }

    /// Starts a CPU profile at `hz` through the same sampler `/debug/pprof/profile`
    /// uses; dropping the result stops it. `None` when one is already running.
    /// For the `cpu` bench.
    pub fn start_cpu_profile(hz: i32) -> Option<Box<dyn std::any::Any + Send>> {
        crate::cpu::Session::start(crate::cpu::Kind::Cpu, hz)
            .ok()
            .map(|session| Box::new(session) as Box<dyn std::any::Any + Send>)
    }

    /// A CPU or wall-clock profile started by [`start_profile_run`].
    pub struct ProfileRun(crate::cpu::Session);

    impl ProfileRun {
        /// Stops sampling; the profile as gzip'd `profile.proto`.
        pub fn finish(self) -> Vec<u8> {
            let mut out = Vec::new();
            let _ = crate::profile::proto::write(&self.0.finish(), &mut out);
            out
        }

        /// Stops sampling; the number of samples (expiries) the profile holds.
        pub fn finish_samples(self) -> i64 {
            let profile = self.0.finish();
            profile
                .samples
                .iter()
                .filter_map(|sample| sample.values.first())
                .sum()
        }
    }

    /// Starts the profile `/debug/pprof/profile` (`wall = false`) or `/debug/fgprof`
    /// (`wall = true`) serves, at `hz`; `None` when one is already running. For tests
    /// that compare a profile with the CPU time measured over exactly its window.
    pub fn start_profile_run(wall: bool, hz: i32) -> Option<ProfileRun> {
        let kind = if wall {
            crate::cpu::Kind::Wall
        } else {
            crate::cpu::Kind::Cpu
        };
        crate::cpu::Session::start(kind, hz).ok().map(ProfileRun)
    }

    /// Makes later CPU profiles use the `setitimer` fallback as if `timer_create`
    /// were unavailable (`false` undoes it). For the fallback test.
    pub fn force_cpu_timer_fallback(on: bool) {
        crate::cpu::force_itimer(on);
    }

    /// Symbolizes return addresses with profiled's symbolizer or (`baseline`) the
    /// `backtrace` crate's, from cold caches if `cold`; returns the lines found.
    /// For the `symbolize` bench.
    pub fn symbolize(return_addresses: &[usize], baseline: bool, cold: bool) -> usize {
        crate::stack::symbolize::bench_resolve(return_addresses, baseline, cold)
    }

    /// Forgets every cached address and releases the mapped debug info and parsed
    /// units, keeping the objects' unit tables: the state 2 s after a profile, so the
    /// next symbolization is a reload. For the `symbolize` bench.
    pub fn symbolizer_forget_addresses() {
        crate::stack::symbolize::forget_addresses();
    }

    /// The function names (innermost first) profiles show for a return address.
    /// For the symbolizer's recovery test.
    pub fn symbolize_names(return_address: usize) -> Vec<String> {
        crate::stack::symbolize::resolve(return_address)
            .iter()
            .map(|line| line.function.to_string())
            .collect()
    }

    /// Test-only: lists threads from `dir` instead of `/proc/self/task` (`None`
    /// restores it), to simulate a `/proc` that cannot be read. For the dump
    /// error test; never needed by a program.
    pub fn set_proc_task_dir_for_tests(dir: Option<std::path::PathBuf>) {
        crate::thread::proc::set_task_dir(dir);
    }

    /// Captures the caller's stack with DWARF unwinding; returns its depth.
    /// For the `locks` bench.
    pub fn capture_stack_depth_dwarf() -> usize {
        crate::stack::Stack::capture_dwarf(|stack| stack.frames().len())
    }
}

/// Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`, off by
/// default). Not public API: thin wrappers over crate internals that may change in
/// any release.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::site::FnSite;

    /// `Query::parse(raw)`'s decoded pairs, in order.
    pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
        crate::http::Query::parse(raw).pairs().to_vec()
    }

    /// `Query::parse(raw).value(key)`: Go's `FormValue`.
    pub fn query_value(raw: Option<&str>, key: &str) -> String {
        crate::http::Query::parse(raw).value(key).to_owned()
    }

    /// `Query::parse(raw).atoi(key)`: `strconv.Atoi(FormValue(key))`, error ignored.
    pub fn query_atoi(raw: Option<&str>, key: &str) -> i64 {
        crate::http::Query::parse(raw).atoi(key)
    }

    /// Go's `strconv.Atoi` with the error ignored, as the handlers use it.
    pub fn atoi(s: &str) -> i64 {
        crate::http::atoi(s)
    }

    /// Go's `strconv.ParseInt(s, 10, 64)`.
    pub fn parse_int(s: &str) -> Option<i64> {
        crate::http::parse_int(s)
    }

    /// Go's `strconv.ParseUint(s, 0, 64)`, as `/debug/pprof/symbol` parses addresses.
    pub fn parse_uint(s: &str) -> Option<u64> {
        crate::http::parse_uint(s)
    }

    /// The `/debug/pprof/symbol` response body for a `+`-separated list of addresses.
    pub fn symbol_lookup(words: &[u8]) -> String {
        crate::http::symbol_lookup(words)
    }

    /// In a row's frames, separates the real stack from its logical chain.
    pub const SEPARATOR: usize = crate::stack::frame::SEPARATOR;

    /// The frame that stands for `site` in a logical chain (after [`SEPARATOR`]).
    pub fn logical_frame(site: &'static FnSite) -> usize {
        crate::stack::frame::encode(site)
    }

    /// Which text encoder [`encode_rows`] runs for `debug=1`.
    #[derive(Clone, Copy, Debug)]
    pub enum TextFormat {
        /// Go's contention text with a header (`mutex` prints its sampling period).
        Contention {
            /// `mutex` or `contention`.
            header: &'static str,
            /// Printed as `sampling period=N` when present.
            sampling_period: Option<i64>,
        },
        /// Go's count-profile text (`goroutine`, `threadcreate`).
        Count {
            /// The profile's name in the header.
            name: &'static str,
        },
    }

    /// What [`encode_rows`] wrote for one profile.
    #[derive(Debug)]
    pub struct Encoded {
        /// gzip'd `profile.proto`.
        pub proto: Vec<u8>,
        /// `debug=1` text.
        pub text: Vec<u8>,
        /// Folded stacks.
        pub folded: Vec<u8>,
        /// The flame graph, when asked for.
        pub svg: Option<Vec<u8>>,
    }

    /// Builds a profile from rows of (frames innermost first, values) exactly as
    /// the contention profiles are built (symbolized, trimmed, merged, ordered),
    /// sets its sample types, and writes it with every encoder.
    ///
    /// Real frames must be code addresses (or any value without the top bit set);
    /// frames after [`SEPARATOR`] must come from [`logical_frame`].
    pub fn encode_rows(
        rows: &[(Vec<usize>, Vec<i64>)],
        sample_types: &[(&'static str, &'static str)],
        default_sample_type: Option<&'static str>,
        comments: Vec<String>,
        text_format: TextFormat,
        svg: bool,
    ) -> std::io::Result<Encoded> {
        use crate::profile::{Encoding, Header, TextForm, ValueType, build, encode};
        let sample_types: Vec<ValueType> = sample_types
            .iter()
            .map(|&(ty, unit)| ValueType::new(ty, unit))
            .collect();
        let header = Header {
            period_type: sample_types
                .first()
                .copied()
                .unwrap_or(ValueType::new("", "")),
            sample_types,
            default_sample_type,
            period: 1,
            time_nanos: 0,
            duration_nanos: 0,
        };
        let rows = rows
            .iter()
            .map(|(frames, values)| (frames.as_slice(), values.clone()));
        let profile = build::from_rows(header, rows, comments);
        let text = match text_format {
            TextFormat::Contention {
                header,
                sampling_period,
            } => TextForm::Contention {
                header,
                sampling_period,
            },
            TextFormat::Count { name } => TextForm::Count { name },
        };
        let write = |encoding: Encoding| {
            let mut out = Vec::new();
            encode(&profile, &encoding, &mut out).map(|()| out)
        };
        Ok(Encoded {
            proto: write(Encoding::Proto)?,
            text: write(Encoding::Text(text))?,
            folded: write(Encoding::Folded)?,
            svg: svg
                .then(|| {
                    write(Encoding::Svg {
                        title: "fuzz".to_owned(),
                    })
                })
                .transpose()?,
        })
    }
}
