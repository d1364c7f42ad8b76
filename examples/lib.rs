//! Runnable scenarios for `profiled`: see the `[[example]]` entries and the README.
//! This library holds what the examples share.

/// The options every example takes: `--addr HOST:PORT` (where to serve; default:
/// `PROFILED_LISTEN_ADDR`, else the example's own default) and `--seconds N` (stop
/// after N seconds; default: run until interrupted).
#[derive(Clone, Debug)]
pub struct DemoArgs {
    /// `--addr`, when given.
    pub addr: Option<String>,
    /// The example's address when neither `--addr` nor `PROFILED_LISTEN_ADDR` is set.
    pub default_addr: String,
    /// Stop after this many seconds.
    pub seconds: Option<u64>,
}

impl DemoArgs {
    /// Parses the command line, exiting with status 2 and a message on bad input.
    pub fn parse(example: &str, default_addr: &str) -> DemoArgs {
        DemoArgs::from_iter(std::env::args().skip(1), default_addr).unwrap_or_else(|e| {
            eprintln!("{example}: {e}");
            std::process::exit(2);
        })
    }

    fn from_iter(
        args: impl Iterator<Item = String>,
        default_addr: &str,
    ) -> Result<DemoArgs, String> {
        let mut parsed = DemoArgs {
            addr: None,
            default_addr: default_addr.to_owned(),
            seconds: None,
        };
        let mut args = args;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--addr" => parsed.addr = Some(args.next().ok_or("--addr needs host:port")?),
                "--seconds" => {
                    let value = args.next().ok_or("--seconds needs a number")?;
                    parsed.seconds = Some(
                        value
                            .parse()
                            .map_err(|_| format!("bad --seconds {value:?}"))?,
                    );
                }
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; use --addr HOST:PORT or --seconds N"
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// Where to serve: `--addr`, else `PROFILED_LISTEN_ADDR`, else the default.
    pub fn listen_addr(&self) -> String {
        self.listen_addr_with(std::env::var("PROFILED_LISTEN_ADDR").ok())
    }

    fn listen_addr_with(&self, from_env: Option<String>) -> String {
        self.addr
            .clone()
            .or(from_env)
            .unwrap_or_else(|| self.default_addr.clone())
    }

    /// Starts a profiler on [`listen_addr`](Self::listen_addr) with the default
    /// configuration as changed by any `PROFILED_*` environment variables
    /// ([`profiled::Config::from_env`]), exiting with status 1 and the error when it
    /// cannot start; returns it and its address. With `PROFILED_ENABLED=false` it says
    /// so, serves nothing and exits with status 0 once `--seconds` have passed.
    pub fn start_profiler(&self, example: &str) -> (profiled::Profiler, std::net::SocketAddr) {
        self.start_profiler_with(example, |config| config)
    }

    /// [`start_profiler`](Self::start_profiler) with the configuration changed by
    /// `adjust` after the environment was read.
    pub fn start_profiler_with(
        &self,
        example: &str,
        adjust: impl FnOnce(profiled::Config) -> profiled::Config,
    ) -> (profiled::Profiler, std::net::SocketAddr) {
        let config = match profiled::Config::from_env() {
            Ok(config) => adjust(profiled::Config {
                listen_addr: self.listen_addr(),
                ..config
            }),
            Err(e) => {
                eprintln!("{example}: {e}");
                std::process::exit(2);
            }
        };
        match profiled::Profiler::start(config) {
            Ok(profiler) => match profiler.local_addr() {
                Some(addr) => (profiler, addr),
                None => {
                    println!(
                        "{example}: profiling is disabled (PROFILED_ENABLED=false): nothing is served"
                    );
                    self.serve_until_done(profiler);
                    std::process::exit(0);
                }
            },
            Err(e) => {
                eprintln!("{example}: {e}");
                std::process::exit(1);
            }
        }
    }

    /// Keeps the process serving until `--seconds` have passed (forever without it),
    /// then stops `profiler`.
    pub fn serve_until_done(&self, profiler: profiled::Profiler) {
        let started = std::time::Instant::now();
        while !self.expired(started) {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        profiler.stop();
    }

    /// True once `--seconds` have passed since `started`.
    pub fn expired(&self, started: std::time::Instant) -> bool {
        self.seconds
            .is_some_and(|s| started.elapsed() >= std::time::Duration::from_secs(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_options_and_rejects_others() {
        let args = |list: &[&str]| {
            list.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        let parsed =
            DemoArgs::from_iter(args(&["--addr", "127.0.0.1:0", "--seconds", "3"]), "x").unwrap();
        assert_eq!(
            (parsed.addr.as_deref(), parsed.seconds),
            (Some("127.0.0.1:0"), Some(3))
        );
        let defaulted = DemoArgs::from_iter(args(&[]), "d:1").unwrap();
        assert_eq!(defaulted.listen_addr_with(None), "d:1");
        // PROFILED_LISTEN_ADDR wins over the default, --addr over both.
        assert_eq!(defaulted.listen_addr_with(Some("e:2".into())), "e:2");
        assert_eq!(parsed.listen_addr_with(Some("e:2".into())), "127.0.0.1:0");
        assert!(DemoArgs::from_iter(args(&["--seconds", "x"]), "d").is_err());
        assert!(DemoArgs::from_iter(args(&["--port"]), "d").is_err());
    }
}
