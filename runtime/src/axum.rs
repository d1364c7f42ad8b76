//! Feature `axum`: every endpoint as an [`axum::Router`], to merge into an app's own.

use crate::{Config, ConfigError, ProfiledService};

/// A router serving every endpoint under `prefix` (`/debug/...` and `/metrics`),
/// with `config`'s token and limits. Recording is switched on separately, by
/// [`Profiler::start_recording`](crate::Profiler::start_recording).
///
/// ```
/// let config = profiled::Config::default();
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .merge(profiled::axum::router(&config, "/admin")?);
/// # Ok::<(), profiled::ConfigError>(())
/// ```
pub fn router(config: &Config, prefix: &str) -> Result<axum::Router, ConfigError> {
    let service = ProfiledService::new(config, prefix)?;
    let prefix = prefix.trim_end_matches('/');
    let handler = move |request: axum::extract::Request| {
        let service = service.clone();
        async move { service.handle(request).await }
    };
    Ok(axum::Router::new()
        .route(
            &format!("{prefix}/debug/{{*rest}}"),
            axum::routing::any(handler.clone()),
        )
        .route(&format!("{prefix}/metrics"), axum::routing::any(handler)))
}
