//! The stdin source, for sidecar use: `some-program | outpost run --config …`.
//!
//! Lines are read on a thread of their own and become events like a file's. Standard input
//! cannot be read twice, so there is no checkpoint: what was read is handed to the store at
//! once (batches of at most [`super::BATCH_WAIT`]). At end of input everything read is made
//! durable, then the source tells the runtime ([`super::Env::stdin_done`]), which gives the
//! sinks `[logs] drain_timeout` to deliver and exits 0; what is still undelivered stays in the
//! store for the next start.

use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use super::multiline::Assembler;
use super::{line_reader, Known, Pipeline};
use crate::model::event::flags;
use crate::shutdown::Stop;
use crate::store::Append;

pub fn run(mut pipe: Pipeline, stop: Stop) {
    let rx = match line_reader(std::io::stdin(), pipe.src.max_line_bytes, "log-stdin-read".into()) {
        Ok(rx) => rx,
        Err(e) => {
            log::error!("logs: source {}: cannot start reading stdin: {e}", pipe.src.name);
            return;
        }
    };
    let mut asm = Assembler::new(&pipe.src.multiline);
    let mut lines = 0u64;
    let mut ticket = None;
    loop {
        let wait = asm
            .due_in(Instant::now())
            .unwrap_or(super::BATCH_WAIT)
            .clamp(Duration::from_millis(5), super::BATCH_WAIT);
        match rx.recv_timeout(wait) {
            Ok(Ok((line, truncated))) => {
                lines += 1;
                let (text, mut fl) = Pipeline::text(&line);
                if truncated {
                    fl |= flags::TRUNCATED;
                }
                if !text.is_empty() {
                    if let Some(r) = asm.push(text, fl, lines) {
                        pipe.emit(r, None, Known::default());
                    }
                }
            }
            Ok(Err(e)) => {
                pipe.problem("read_error");
                log::error!(
                    "logs: source {}: reading stdin: {e}; treating it as the end of input",
                    pipe.src.name
                );
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some(r) = asm.flush_due(Instant::now()) {
            pipe.emit(r, None, Known::default());
        }
        if pipe.due() || stop.is_stopped() {
            match pipe.commit(None, &stop) {
                Append::Accepted(t) => ticket = Some(t),
                _ => return,
            }
            if stop.is_stopped() {
                return;
            }
        }
    }
    if let Some(r) = asm.flush() {
        pipe.emit(r, None, Known::default());
    }
    if pipe.pending() > 0 {
        match pipe.commit(None, &stop) {
            Append::Accepted(t) => ticket = Some(t),
            _ => return,
        }
    }
    // Everything read must be durable before the runtime starts draining.
    if let Some(t) = ticket {
        while !pipe.env.store.is_durable(t) {
            if stop.sleep_until(std::time::Instant::now() + Duration::from_millis(20)) {
                return;
            }
        }
    }
    log::info!(
        "logs: source {}: end of input after {lines} lines; all of it is stored",
        pipe.src.name
    );
    pipe.env.stdin_done.store(true, Ordering::SeqCst);
}
