//! Feature `tracing`: entered spans as profile labels, following Grafana
//! Pyroscope's span-profiles contract (`span_name`, `span_id`).

use std::cell::RefCell;
use std::fmt;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Field, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::{LabelSet, current, table};

/// A `tracing_subscriber` [`Layer`] that makes every entered span a label scope:
/// samples taken while a span is entered carry `span_name` (the span's name),
/// `span_id` (16 hex digits: the span's `span_id` field if it has one, such as an
/// OpenTelemetry id recorded by the application, else tracing's own span id) and
/// `trace_id` (only when the span has a `trace_id` field: reading
/// `tracing-opentelemetry`'s context is not supported yet), as Pyroscope's span
/// profiles expect.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(profiled::labels::SpanLabels::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("checkout");
///     let _entered = span.enter();
///     assert_eq!(profiled::labels::current().get("span_name").as_deref(), Some("checkout"));
/// });
/// ```
///
/// Ids are unique per span: each entered span interns one label set, so a busy
/// service fills the label table ([`crate::Config::max_label_sets`]); after that
/// spans carry `span_name` alone (counted as overflow), never an unbounded table.
/// `span_id` and `trace_id` are kept off heap, allocs and mutex samples unless
/// [`keep_ids_on_every_profile`](super::keep_ids_on_every_profile) says otherwise. [`SpanLabelsBuilder::span_ids`] turns ids off;
/// [`SpanLabelsBuilder::root_only`] labels with the outermost entered span only,
/// as Pyroscope does by default.
#[derive(Clone, Copy, Debug)]
pub struct SpanLabels {
    root_only: bool,
    span_ids: bool,
}

/// Options of [`SpanLabels`].
#[derive(Clone, Copy, Debug)]
pub struct SpanLabelsBuilder(SpanLabels);

impl SpanLabels {
    /// Every entered span labels samples, with its id.
    pub fn new() -> SpanLabels {
        SpanLabels {
            root_only: false,
            span_ids: true,
        }
    }

    /// Options: root span only, ids or not.
    ///
    /// ```
    /// let layer = profiled::labels::SpanLabels::builder().root_only(true).span_ids(false).build();
    /// # drop(layer);
    /// ```
    pub fn builder() -> SpanLabelsBuilder {
        SpanLabelsBuilder(SpanLabels::new())
    }
}

impl Default for SpanLabels {
    fn default() -> SpanLabels {
        SpanLabels::new()
    }
}

impl SpanLabelsBuilder {
    /// Label with the outermost entered span of each thread only (default false):
    /// nested spans leave its labels as they are.
    pub fn root_only(mut self, root_only: bool) -> SpanLabelsBuilder {
        self.0.root_only = root_only;
        self
    }

    /// Add `span_id` and `trace_id` (default true); without, only `span_name`.
    pub fn span_ids(mut self, span_ids: bool) -> SpanLabelsBuilder {
        self.0.span_ids = span_ids;
        self
    }

    /// The layer.
    pub fn build(self) -> SpanLabels {
        self.0
    }
}

/// A span's labels, kept in its extensions.
struct SpanSet(LabelSet);

/// The `span_id` and `trace_id` fields of a span, if it records them.
#[derive(Default)]
struct Ids {
    span_id: Option<String>,
    trace_id: Option<String>,
}

impl tracing_core::field::Visit for Ids {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, format!("{value:016x}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Ids {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "span_id" => self.span_id = Some(value),
            "trace_id" => self.trace_id = Some(value),
            _ => {}
        }
    }
}

thread_local! {
    /// The label sets replaced by entered spans, innermost last.
    static REPLACED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

impl SpanLabels {
    fn set_of(&self, name: &'static str, id: &Id, ids: Ids) -> LabelSet {
        if !self.span_ids {
            return LabelSet::new(&[("span_name", name)]);
        }
        let span_id = ids
            .span_id
            .unwrap_or_else(|| format!("{:016x}", id.into_u64()));
        let mut pairs = vec![("span_name", name), ("span_id", span_id.as_str())];
        if let Some(trace_id) = &ids.trace_id {
            pairs.push(("trace_id", trace_id.as_str()));
        }
        let set = LabelSet::new(&pairs);
        if set.id() == table::OVERFLOW {
            // The table is full: keep the span's name, which is likely interned.
            return LabelSet::new(&[("span_name", name)]);
        }
        set
    }
}

impl<S> Layer<S> for SpanLabels
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut ids = Ids::default();
        attrs.record(&mut ids);
        let set = self.set_of(attrs.metadata().name(), id, ids);
        span.extensions_mut().insert(SpanSet(set));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut ids = Ids::default();
        values.record(&mut ids);
        if self.span_ids && (ids.span_id.is_some() || ids.trace_id.is_some()) {
            let set = self.set_of(span.metadata().name(), id, ids);
            span.extensions_mut().replace(SpanSet(set));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let set = ctx
            .span(id)
            .and_then(|span| span.extensions().get::<SpanSet>().map(|set| set.0))
            .unwrap_or_default();
        let _ = REPLACED.try_with(|replaced| {
            let mut replaced = replaced.borrow_mut();
            let parent = current::id();
            let merged = if self.root_only && !replaced.is_empty() {
                parent
            } else {
                current::merged_set(parent, set.id())
            };
            replaced.push(current::replace(merged));
        });
    }

    fn on_exit(&self, _id: &Id, _ctx: Context<'_, S>) {
        let _ = REPLACED.try_with(|replaced| {
            if let Some(previous) = replaced.borrow_mut().pop() {
                current::replace(previous);
            }
        });
    }
}
