//! `/metrics`: Prometheus / OpenMetrics text through `prometheus-client`, built at
//! scrape time from the same counters `/debug/stats` reads (a collector, so nothing
//! extra runs on hot paths). [`register`] adds them to an app's own registry.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::site::{FnKind, FnSiteRef, LockSiteRef};
use crate::{control, instrument, registry, task};

/// Adds profiled's metrics (per named lock, per `#[profiled]` function, tasks,
/// threads, dropped events, switches) to `registry`, for apps that serve their own
/// Prometheus endpoint.
///
/// ```
/// let mut registry = prometheus_client::registry::Registry::default();
/// profiled::metrics::register(&mut registry);
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains("profiled_tasks"));
/// ```
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ProfiledCollector));
}

/// The OpenMetrics text of profiled's metrics, as `/metrics` serves it to clients
/// that accept `application/openmetrics-text` (Prometheus does).
///
/// ```
/// let text = profiled::metrics::render();
/// assert!(text.contains("# TYPE profiled_lock_contentions counter"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
pub fn render() -> String {
    let mut registry = Registry::default();
    register(&mut registry);
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => text,
        Err(_) => "# EOF\n".to_owned(),
    }
}

/// The same metrics in the Prometheus text format 0.0.4, for clients that do not
/// ask for OpenMetrics (curl, promtool, older agents): counter families are named
/// with their `_total` suffix, and `# UNIT` and `# EOF` lines are left out.
///
/// ```
/// let text = profiled::metrics::render_prometheus_text();
/// assert!(text.contains("# TYPE profiled_lock_contentions_total counter"));
/// // The thread count, for alerting on thread leaks.
/// let threads = text.lines().find_map(|l| l.strip_prefix("profiled_threads ")).unwrap();
/// assert!(threads.parse::<u64>().unwrap() >= 1);
/// assert!(!text.contains("# EOF"));
/// ```
pub fn render_prometheus_text() -> String {
    to_prometheus_text(&render())
}

fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            pending_help = Some((name, help));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let exposed = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_owned()
            };
            if let Some((help_name, help)) = pending_help.take()
                && help_name == name
            {
                out.push_str(&format!("# HELP {exposed} {help}\n"));
            }
            out.push_str(&format!("# TYPE {exposed} {kind}\n"));
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[derive(Debug)]
struct ProfiledCollector;

type Labels = Vec<(&'static str, String)>;

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl IntoIterator<Item = (Labels, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn histogram(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64, u64, Vec<(f64, u64)>)>,
) -> Result<(), std::fmt::Error> {
    let mut family =
        encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    for (labels, sum_ns, count, cumulative) in series {
        let sum = sum_ns as f64 / 1e9;
        // prometheus-client takes per-bucket counts and accumulates them itself.
        let mut previous = 0;
        let mut buckets: Vec<(f64, u64)> = cumulative
            .into_iter()
            .map(|(le, total)| {
                let in_bucket = total.saturating_sub(previous);
                previous = total;
                (le, in_bucket)
            })
            .collect();
        buckets.push((f64::INFINITY, count.saturating_sub(previous)));
        family
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}

impl Collector for ProfiledCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let locks: Vec<_> = inventory::iter::<LockSiteRef>
            .into_iter()
            .map(|site| (site.0.stats(), site.0.wait_histogram()))
            .collect();
        let lock_labels = |stats: &crate::LockSiteStats| -> Labels {
            vec![
                ("lock", stats.name.to_owned()),
                ("kind", stats.kind.as_str().to_owned()),
            ]
        };
        counter(
            &mut encoder,
            "profiled_lock_contentions",
            "Acquisitions of a named profiled lock that had to wait",
            None,
            locks
                .iter()
                .map(|(s, _)| (lock_labels(s), s.contentions as f64)),
        )?;
        histogram(
            &mut encoder,
            "profiled_lock_wait",
            "Time threads waited to acquire a named profiled lock",
            locks
                .iter()
                .map(|(s, b)| (lock_labels(s), s.wait_ns, s.contentions, b.clone())),
        )?;
        counter(
            &mut encoder,
            "profiled_lock_contended_hold",
            "Time a named profiled lock was held while others waited for it",
            Some(&Unit::Seconds),
            locks
                .iter()
                .map(|(s, _)| (lock_labels(s), s.contended_hold_ns as f64 / 1e9)),
        )?;

        let functions: Vec<_> = inventory::iter::<FnSiteRef>
            .into_iter()
            .map(|site| (site.0.stats(), site.0.duration_histogram()))
            .collect();
        let fn_labels = |stats: &crate::FunctionStats| -> Labels {
            let kind = match stats.kind {
                FnKind::Sync => "sync",
                FnKind::Async => "async",
            };
            vec![
                ("function", stats.name.to_owned()),
                ("kind", kind.to_owned()),
            ]
        };
        counter(
            &mut encoder,
            "profiled_function_calls",
            "Finished calls (sync) or futures (async) of a #[profiled] function",
            None,
            functions
                .iter()
                .map(|(s, _)| (fn_labels(s), s.calls as f64)),
        )?;
        histogram(
            &mut encoder,
            "profiled_function_duration",
            "Wall time of finished calls or futures of a #[profiled] function",
            functions
                .iter()
                .map(|(s, b)| (fn_labels(s), s.total_ns, s.calls, b.clone())),
        )?;
        counter(
            &mut encoder,
            "profiled_function_idle",
            "Time futures of an async #[profiled] function spent Pending (waiting)",
            Some(&Unit::Seconds),
            functions
                .iter()
                .filter(|(s, _)| s.kind == FnKind::Async)
                .map(|(s, _)| (fn_labels(s), s.idle_ns as f64 / 1e9)),
        )?;

        gauge(
            &mut encoder,
            "profiled_threads",
            "Live OS threads of the process (all of them, as /debug/pprof/goroutine lists)",
            i64::try_from(crate::thread::thread_count()).unwrap_or(i64::MAX),
        )?;
        gauge(
            &mut encoder,
            "profiled_stacks",
            "Distinct stacks held by the stack registry (bounded by max_stacks)",
            registry::existing().map_or(0, |r| i64::try_from(r.stacks.len()).unwrap_or(i64::MAX)),
        )?;
        let own = crate::stats::self_stats();
        let mut family = encoder.encode_descriptor(
            "profiled_self",
            "The profiler's own memory by component (kept out of the heap and allocs profiles)",
            Some(&Unit::Bytes),
            MetricType::Gauge,
        )?;
        for (component, bytes) in [
            ("symbolizer", own.symbolizer_bytes),
            ("registry", own.registry_bytes),
            ("server", own.server_bytes),
            ("cpu", own.cpu_bytes),
            ("signals", own.signals_bytes),
            ("other", own.other_bytes),
        ] {
            let labels: Labels = vec![("component", component.to_owned())];
            ConstGauge::new(i64::try_from(bytes).unwrap_or(i64::MAX))
                .encode(family.encode_family(&labels)?)?;
        }
        gauge(
            &mut encoder,
            "profiled_tasks",
            "Live tasks spawned through profiled::task",
            i64::try_from(task::task_count()).unwrap_or(i64::MAX),
        )?;
        counter(
            &mut encoder,
            "profiled_dropped_tasks",
            "Tasks not tracked because the task registry was full",
            None,
            [(Labels::new(), task::dropped() as f64)],
        )?;
        let labels = crate::labels::stats();
        gauge(
            &mut encoder,
            "profiled_label_sets",
            "Distinct label sets interned (bounded by max_label_sets)",
            i64::try_from(labels.sets).unwrap_or(i64::MAX),
        )?;
        counter(
            &mut encoder,
            "profiled_label_overflow",
            "Label sets that did not fit the label table (their samples carry profiled_labels=overflow)",
            None,
            [(Labels::new(), labels.overflowed as f64)],
        )?;
        let (stacks, mutex, block) = registry::existing().map_or((0, 0, 0), |r| {
            (r.stacks.dropped(), r.mutex.dropped(), r.block.dropped())
        });
        counter(
            &mut encoder,
            "profiled_dropped_stacks",
            "Distinct stacks that did not fit the stack registry",
            None,
            [(Labels::new(), stacks as f64)],
        )?;
        counter(
            &mut encoder,
            "profiled_dropped_events",
            "Profile events lost because their stack did not fit",
            None,
            [
                (vec![("profile", "mutex".to_owned())], mutex as f64),
                (vec![("profile", "block".to_owned())], block as f64),
            ],
        )?;
        ConstGauge::new(control::block_rate() as f64 / 1e9).encode(encoder.encode_descriptor(
            "profiled_block_rate",
            "Block profile rate: waits this long are always kept (0 = off)",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?)?;
        gauge(
            &mut encoder,
            "profiled_mutex_fraction",
            "Mutex profile fraction (0 = off)",
            control::mutex_fraction(),
        )?;
        gauge(
            &mut encoder,
            "profiled_function_profiling",
            "1 when #[profiled] functions are recording",
            i64::from(instrument::function_profiling()),
        )?;
        let stuck = crate::deadlock::stats();
        gauge(
            &mut encoder,
            "profiled_deadlocked_threads",
            "Threads and tasks that can never wake: in a wait-for cycle, or waiting for a lock whose owner exited",
            i64::try_from(stuck.deadlocked).unwrap_or(i64::MAX),
        )?;
        gauge(
            &mut encoder,
            "profiled_lock_waiters",
            "Threads and tasks blocked on a profiled lock now",
            i64::try_from(stuck.waiting).unwrap_or(i64::MAX),
        )?;
        let push = crate::push::stats();
        for (name, help, value) in [
            (
                "profiled_push_pushes",
                "Batches the Pyroscope server accepted",
                push.pushes,
            ),
            (
                "profiled_push_failures",
                "Push attempts that failed (each retry counts)",
                push.failures,
            ),
            (
                "profiled_push_dropped_batches",
                "Push batches given up (queue full, or rejected)",
                push.dropped_batches,
            ),
        ] {
            counter(
                &mut encoder,
                name,
                help,
                None,
                [(Labels::new(), value as f64)],
            )?;
        }
        counter(
            &mut encoder,
            "profiled_push_sent",
            "Bytes of push request bodies the server accepted",
            Some(&Unit::Bytes),
            [(Labels::new(), push.bytes as f64)],
        )?;
        gauge(
            &mut encoder,
            "profiled_push_queued_batches",
            "Push batches waiting to be sent",
            i64::try_from(push.queued).unwrap_or(i64::MAX),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_counters_with_total() {
        let openmetrics = "# HELP a_calls Calls.\n# TYPE a_calls counter\na_calls_total 3\n\
                           # HELP b_wait_seconds Wait.\n# TYPE b_wait_seconds histogram\n\
                           # UNIT b_wait_seconds seconds\nb_wait_seconds_count 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(openmetrics),
            "# HELP a_calls_total Calls.\n# TYPE a_calls_total counter\na_calls_total 3\n\
             # HELP b_wait_seconds Wait.\n# TYPE b_wait_seconds histogram\nb_wait_seconds_count 1\n"
        );
    }
}
