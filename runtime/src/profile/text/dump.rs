//! Encoder: Go's `goroutine?debug=2` full dump, one block per thread or task.

use std::io::{self, Write};
use std::time::Duration;

use crate::stack::symbolize::{Line, Lines};

/// The model of a full dump: symbolized and ordered (the requester first, then by
/// id), ready to print.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dump {
    /// Printed as `# ...` lines before the first block.
    pub comments: Vec<String>,
    pub goroutines: Vec<Goroutine>,
}

/// One block of the dump.
#[derive(Clone, Debug)]
pub(crate) struct Goroutine {
    /// Shown as `goroutine <id>`: the tid for threads.
    pub id: u64,
    /// What it is doing, e.g. `sleeping`, `running`, `idle`.
    pub state: String,
    /// How long it has waited in `state`, when known.
    pub wait: Option<Duration>,
    /// `thread` or `task`.
    pub kind: &'static str,
    /// The thread's (or task's) name; may be empty.
    pub name: String,
    /// Time since it was spawned, when known.
    pub age: Option<Duration>,
    /// Return addresses and their lines, innermost first, profiler frames removed.
    pub frames: Vec<(usize, Lines)>,
    /// Why there is no stack.
    pub missing: Option<&'static str>,
    /// Lines printed under the header (what it waits for, what it holds).
    pub notes: Vec<String>,
    /// The first user line of the spawn stack.
    pub created_by: Option<Line>,
    /// Its profile labels (`crate::labels`), sorted by key.
    pub labels: Vec<(&'static str, String)>,
}

/// Writes the dump (`<TAB>` is a tab):
///
/// ```text
/// goroutine 4242 [sleeping, thread "worker-1", labels:{"route":"/checkout"}]:
/// waiting 1.2 s for lock "accounts" (src/bank.rs:12) held by goroutine 7 [thread "auditor"]
/// app::parked_worker(...)
/// <TAB>/src/main.rs:12
/// created by app::main
/// <TAB>/src/main.rs:30
///
/// ```
pub(crate) fn write(dump: &Dump, out: &mut dyn Write) -> io::Result<()> {
    for comment in &dump.comments {
        writeln!(out, "# {comment}")?;
    }
    if !dump.comments.is_empty() {
        writeln!(out)?;
    }
    for goroutine in &dump.goroutines {
        write!(out, "goroutine {} [{}", goroutine.id, goroutine.state)?;
        if let Some(wait) = goroutine.wait {
            write!(out, ", {}", format_wait(wait))?;
        }
        write!(out, ", {} {:?}", goroutine.kind, goroutine.name)?;
        if let Some(age) = goroutine.age {
            write!(out, ", spawned {} ago", format_wait(age))?;
        }
        if !goroutine.labels.is_empty() {
            // As Go 1.27's tracebacks: `labels:{"key":"value", ...}`.
            write!(out, ", labels:{}", super::go_labels(&goroutine.labels))?;
        }
        writeln!(out, "]:")?;
        for note in &goroutine.notes {
            writeln!(out, "{note}")?;
        }
        for (address, lines) in &goroutine.frames {
            if lines.is_empty() {
                writeln!(out, "{:#x}(...)\n\t?:0", address.saturating_sub(1))?;
            }
            for line in lines.iter() {
                writeln!(out, "{}(...)\n\t{}", line.function, file_line(line))?;
            }
        }
        if let Some(reason) = goroutine.missing {
            writeln!(out, "\t(no stack: {reason})")?;
        }
        if let Some(line) = &goroutine.created_by {
            writeln!(out, "created by {}\n\t{}", line.function, file_line(line))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Go prints waits of a minute or more as `N minutes`; shorter ones are shown in
/// seconds, or milliseconds under a second, since tasks often wait less.
fn format_wait(wait: Duration) -> String {
    let seconds = wait.as_secs();
    if seconds >= 60 {
        format!("{} minutes", seconds / 60)
    } else if seconds >= 1 {
        format!("{seconds} seconds")
    } else {
        format!("{} ms", wait.as_millis())
    }
}

fn file_line(line: &Line) -> String {
    if line.file.is_empty() {
        "?:0".to_owned()
    } else {
        format!("{}:{}", line.file, line.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_like_go() {
        assert_eq!(format_wait(Duration::from_secs(125)), "2 minutes");
        assert_eq!(format_wait(Duration::from_secs(7)), "7 seconds");
        assert_eq!(format_wait(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn blocks_read_like_go() {
        let dump = Dump {
            comments: vec!["note".into()],
            goroutines: vec![Goroutine {
                id: 7,
                state: "idle".into(),
                wait: Some(Duration::from_secs(2)),
                kind: "task",
                name: "main.rs:3".into(),
                age: None,
                frames: vec![(0x1001, Lines::default())],
                missing: Some("exiting"),
                notes: vec!["holding lock \"a\", 1 waiting".into()],
                created_by: None,
                labels: vec![("route", "/check\"out".into()), ("tier", "gold".into())],
            }],
        };
        let mut out = Vec::new();
        write(&dump, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# note\n\ngoroutine 7 [idle, 2 seconds, task \"main.rs:3\", \
             labels:{\"route\":\"/check\\\"out\", \"tier\":\"gold\"}]:\n\
             holding lock \"a\", 1 waiting\n\
             0x1000(...)\n\t?:0\n\t(no stack: exiting)\n\n"
        );
    }
}
