//! The local `/metrics` endpoint: a deliberately small HTTP/1.1 server.
//!
//! It serves `GET`/`HEAD` of `/metrics` (and a short index at `/`) and nothing else, one request
//! per connection. A scraper cannot hurt the agent: the request head is bounded (8 KiB), the
//! whole exchange has a deadline, connections beyond `max_connections` are refused at once, and
//! the body is rendered from data the sampler already produced, so a slow or hostile client
//! never delays a sampling cycle. A full HTTP stack would cost more binary than the rest of the
//! agent's metrics path.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::Telemetry;
use crate::model::text::CONTENT_TYPE;
use crate::shutdown::Stop;

const MAX_HEAD: usize = 8 * 1024;
/// Connections being refused (503) at once; more are dropped without an answer.
const MAX_REFUSALS: usize = 16;

async fn refuse(mut stream: TcpStream, _permit: tokio::sync::OwnedSemaphorePermit) {
    let _ = tokio::time::timeout(Duration::from_millis(250), async {
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        let mut total = 0;
        while total < MAX_HEAD {
            match stream.read(&mut sink).await? {
                0 => break,
                n => total += n,
            }
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
}

pub struct Server {
    pub listener: TcpListener,
    pub telemetry: Arc<Telemetry>,
    pub max_connections: usize,
    pub request_timeout: Duration,
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    allow: bool,
}

impl Response {
    fn new(status: u16, reason: &'static str, body: impl Into<String>) -> Self {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            allow: false,
        }
    }
}

/// Finds the end of the request head (`\r\n\r\n`, or bare `\n\n` from sloppy clients).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"))
}

fn route(head: &[u8], telemetry: &Telemetry) -> (Response, bool) {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return (
            Response::new(400, "Bad Request", "malformed request line\n"),
            false,
        );
    };
    if !version.starts_with("HTTP/1.") {
        return (
            Response::new(400, "Bad Request", "unsupported HTTP version\n"),
            false,
        );
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let mut r = Response::new(405, "Method Not Allowed", "only GET and HEAD\n");
        r.allow = true;
        return (r, false);
    }
    let path = target.split('?').next().unwrap_or(target);
    let response = match path {
        "/metrics" => {
            if !telemetry.has_sample() {
                Response::new(
                    503,
                    "Service Unavailable",
                    "first sampling cycle not finished yet\n",
                )
            } else {
                let mut r = Response::new(200, "OK", telemetry.render());
                r.content_type = CONTENT_TYPE;
                r
            }
        }
        "/" => Response::new(
            200,
            "OK",
            format!(
                "outpost {}\nmetrics: /metrics\nerrors: /errors?since=30m\n",
                super::VERSION
            ),
        ),
        "/errors" => match telemetry.view(path) {
            Some(v) => match v.render(target.split_once('?').map(|(_, q)| q).unwrap_or("")) {
                Ok(body) => {
                    let mut r = Response::new(200, "OK", body);
                    r.content_type = "application/json";
                    r
                }
                Err(e) => Response::new(400, "Bad Request", format!("{e}\n")),
            },
            None => Response::new(
                404,
                "Not Found",
                "the signature engine is not running (no [signatures] section or catalog)\n",
            ),
        },
        _ => Response::new(404, "Not Found", "not found; try /metrics\n"),
    };
    (response, head_only)
}

async fn handle(mut stream: TcpStream, telemetry: Arc<Telemetry>) -> std::io::Result<u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (response, head_only) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(0); // closed before a full request: nothing to answer
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head_end(&buf) {
            break route(&buf[..end], &telemetry);
        }
        if buf.len() > MAX_HEAD {
            break (
                Response::new(431, "Request Header Fields Too Large", "request head too large\n"),
                false,
            );
        }
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.reason,
        response.content_type,
        response.body.len()
    );
    if response.allow {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(response.body.as_bytes()).await?;
    }
    stream.shutdown().await?;
    Ok(response.status)
}

impl Server {
    /// Serves until `stop` trips.
    pub async fn run(self, stop: Stop) {
        let limit = Arc::new(Semaphore::new(self.max_connections));
        let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = stop.stopped() => break,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    log::warn!("metrics endpoint: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                self.telemetry.http_rejected();
                // Answer 503 and drain what the client sent, briefly: closing a socket with
                // unread input makes the kernel send RST, and the client would never see the
                // 503. Refusals are bounded too; beyond that the connection is just dropped.
                if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                    tokio::spawn(refuse(stream, permit));
                }
                continue;
            };
            let telemetry = Arc::clone(&self.telemetry);
            let deadline = self.request_timeout;
            tokio::spawn(async move {
                match tokio::time::timeout(deadline, handle(stream, Arc::clone(&telemetry))).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(status)) => telemetry.http_request(status),
                    Ok(Err(e)) => log::debug!("metrics endpoint: {peer}: {e}"),
                    Err(_) => log::debug!("metrics endpoint: {peer}: request timed out"),
                }
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_variants() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(23));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn routing() {
        let t = Telemetry::new();
        let (r, _) = route(b"GET /metrics HTTP/1.1", &t);
        assert_eq!(r.status, 503, "no sample yet");
        t.publish("node_load1 0\n".into());
        let (r, head_only) = route(b"HEAD /metrics?x=1 HTTP/1.1", &t);
        assert_eq!((r.status, head_only), (200, true));
        assert!(r.body.starts_with("node_load1 0\n"));
        assert!(r.body.contains("# TYPE outpost_build_info gauge"));
        assert_eq!(route(b"POST /metrics HTTP/1.1", &t).0.status, 405);
        assert_eq!(route(b"GET /nope HTTP/1.1", &t).0.status, 404);
        assert_eq!(route(b"garbage", &t).0.status, 400);
        assert_eq!(route(b"GET / SPDY/3", &t).0.status, 400);
    }
}
