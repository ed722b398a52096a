//! `exec`: a local program run once per decision, the decision's JSON (with its `key`) on its
//! standard input — a siren, a relay, a local display. No shell: the configured program and
//! arguments are executed directly, with an empty environment apart from `PATH`, and its
//! output is not read beyond a short stderr excerpt for the log.
//!
//! Exit status 0 is delivered; 75 (`EX_TEMPFAIL`) asks for a retry with backoff; any other
//! status, a timeout (the program is killed) or a signal is refused for good for this
//! decision (counted, logged once per episode, the next one goes on). A program that cannot be
//! started at all is retried with backoff: the decisions wait in the store. At most one run
//! per `min_interval`. Exit statuses are counted in `outpost_exec_requests_total{code}`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Pace;
use crate::config::alerts::ExecConfig;
use crate::model::alert::Decision;
use crate::net::http::Outcome;
use crate::sinks::forward::Transport;

/// The exit status that asks for the decision again later (sysexits.h `EX_TEMPFAIL`).
pub const EX_TEMPFAIL: i32 = 75;

pub struct Render;

impl super::Render for Render {
    fn render(&mut self, decisions: &[Decision]) -> Vec<(Vec<u8>, Vec<usize>)> {
        decisions
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut body = serde_json::to_vec(&d.to_json()).unwrap_or_default();
                body.push(b'\n');
                (body, vec![i])
            })
            .collect()
    }
}

pub struct Exec {
    command: Vec<String>,
    timeout: Duration,
    pace: Pace,
    target: String,
}

impl Exec {
    pub fn new(c: &ExecConfig) -> Exec {
        Exec {
            command: c.command.clone(),
            timeout: c.timeout,
            pace: Pace::new(c.min_interval),
            target: c.command.first().cloned().unwrap_or_default(),
        }
    }

    fn run(&self, input: &[u8]) -> Outcome {
        let Some((program, args)) = self.command.split_first() else {
            return Outcome::Rejected {
                status: 0,
                reason: "no_command",
                message: "no command configured".into(),
            };
        };
        let mut child = match Command::new(program)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                return Outcome::Retry {
                    status: None,
                    after: None,
                    message: format!("cannot start it: {e}"),
                }
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its input gets EPIPE here; its exit status decides.
            let _ = stdin.write_all(input);
        }
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if started.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    return Outcome::Retry {
                        status: None,
                        after: None,
                        message: format!("cannot wait for it: {e}"),
                    }
                }
            }
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let mut buf = Vec::new();
            let _ = e.by_ref().take(512).read_to_end(&mut buf);
            err = String::from_utf8_lossy(&buf).trim().to_string();
        }
        let said = if err.is_empty() {
            String::new()
        } else {
            format!(": {err}")
        };
        match status.map(|s| s.code()) {
            None => Outcome::Rejected {
                status: 0,
                reason: "timeout",
                message: format!("killed after {:?}{said}", self.timeout),
            },
            Some(Some(0)) => Outcome::Delivered(0),
            Some(Some(EX_TEMPFAIL)) => Outcome::Retry {
                status: Some(EX_TEMPFAIL as u16),
                after: None,
                message: format!("exit status {EX_TEMPFAIL} (try again later){said}"),
            },
            Some(Some(code)) => Outcome::Rejected {
                status: code.clamp(1, 255) as u16,
                reason: "exit_status",
                message: format!("exit status {code}{said}"),
            },
            Some(None) => Outcome::Rejected {
                status: 0,
                reason: "signal",
                message: format!("killed by a signal{said}"),
            },
        }
    }
}

impl Transport for Exec {
    fn send(&self, body: &[u8]) -> Outcome {
        self.pace.run(|| self.run(body))
    }

    fn target(&self) -> &str {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::alerts::Route;

    fn exec(args: &[&str], timeout_ms: u64) -> Exec {
        Exec::new(&ExecConfig {
            command: args.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_millis(timeout_ms),
            min_interval: Duration::ZERO,
            route: Route::default(),
        })
    }

    #[test]
    fn exit_statuses_timeouts_and_missing_programs() {
        let dir = std::env::temp_dir().join(format!("outpost-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("got");
        let script = format!("cat > {}; echo done >&2", out.display());
        assert_eq!(
            exec(&["/bin/sh", "-c", &script], 5000).send(b"{\"kind\":\"firing\"}\n"),
            Outcome::Delivered(0)
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"kind\":\"firing\"}\n");
        assert!(matches!(
            exec(&["/bin/sh", "-c", "echo relay stuck >&2; exit 3"], 5000).send(b""),
            Outcome::Rejected { status: 3, reason: "exit_status", ref message } if message.contains("relay stuck")
        ));
        assert!(matches!(
            exec(&["/bin/sh", "-c", "exit 75"], 5000).send(b""),
            Outcome::Retry { status: Some(75), .. }
        ));
        let started = Instant::now();
        assert!(matches!(
            exec(&["/bin/sleep", "10"], 200).send(b""),
            Outcome::Rejected {
                reason: "timeout",
                ..
            }
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(
            exec(&["/nonexistent/siren"], 200).send(b""),
            Outcome::Retry { status: None, .. }
        ));
        // No shell: the arguments are passed as they are.
        let lit = dir.join("literal");
        let script = format!("printf '%s' \"$1\" > {}", lit.display());
        exec(&["/bin/sh", "-c", &script, "sh", "$(id); `x`"], 5000).send(b"");
        assert_eq!(std::fs::read_to_string(&lit).unwrap(), "$(id); `x`");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
