//! Runnable scenarios for `profiled`: see the `[[example]]` entries and the README.
//! This library holds what the examples share.

/// The options every example takes: `--addr HOST:PORT` (where to serve) and
/// `--seconds N` (stop after N seconds; default: run until interrupted).
#[derive(Clone, Debug)]
pub struct DemoArgs {
    /// Address to serve on.
    pub addr: String,
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
            addr: default_addr.to_owned(),
            seconds: None,
        };
        let mut args = args;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--addr" => parsed.addr = args.next().ok_or("--addr needs host:port")?,
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

    /// Starts a profiler on `--addr` with the default configuration as changed by any
    /// `PROFILED_*` environment variables ([`profiled::Config::from_env`]), exiting
    /// with status 1 and the error when it cannot start; returns it and its address.
    pub fn start_profiler(&self, example: &str) -> (profiled::Profiler, std::net::SocketAddr) {
        let config = match profiled::Config::from_env() {
            Ok(config) => profiled::Config {
                listen_addr: self.addr.clone(),
                ..config
            },
            Err(e) => {
                eprintln!("{example}: {e}");
                std::process::exit(2);
            }
        };
        match profiled::Profiler::start(config) {
            Ok(profiler) => {
                let addr = profiler
                    .local_addr()
                    .expect("the default config is enabled");
                (profiler, addr)
            }
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
            (parsed.addr.as_str(), parsed.seconds),
            ("127.0.0.1:0", Some(3))
        );
        assert_eq!(DemoArgs::from_iter(args(&[]), "d:1").unwrap().addr, "d:1");
        assert!(DemoArgs::from_iter(args(&["--seconds", "x"]), "d").is_err());
        assert!(DemoArgs::from_iter(args(&["--port"]), "d").is_err());
    }
}
