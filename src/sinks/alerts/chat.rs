//! Slack (incoming webhook: `{"text": …}`) and Telegram (bot `sendMessage`: `{"chat_id",
//! "text"}`): readable messages for people, paced to the services' limits.
//!
//! **Bursts collapse.** The delivery engine's live lane waits up to `min_interval` for more
//! decisions (its linger) and reads up to `max_per_message`; they go out as one message ("7
//! alerts on gw-17: …", a line each), split only where a message would pass the service's
//! size limit. Nothing is dropped to fit: a long burst is several messages.
//!
//! **Limits.** [`Chat`] sends at most one message per `min_interval` (Slack asks for about
//! one per second per webhook; Telegram one per second per chat, twenty per minute in
//! groups — hence its default of 3 s), across both lanes. A 429 holds the sink for as long as
//! the service says: Slack's `Retry-After` header, Telegram's `parameters.retry_after` in the
//! body; other failures back off with jitter. Either way the messages stay in the store.

use std::time::Duration;

use super::Pace;
use crate::config::alerts::ChatConfig;
use crate::model::alert::{Decision, Kind};
use crate::model::event::rfc3339_ms;
use crate::net::http::Outcome;
use crate::sinks::forward::{HttpPost, Transport};

/// Longest message text: Telegram allows 4,096 characters, Slack far more; one size for both.
pub const MAX_TEXT: usize = 3_900;
/// A sample is cut to this many characters in a message.
const SAMPLE_CHARS: usize = 160;

fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn mark(d: &Decision) -> &'static str {
    match d.kind {
        Kind::Firing if d.policy == "escalate" => "ESCALATE",
        Kind::Firing => "FIRING",
        Kind::Reminder => "STILL FIRING",
        Kind::Resolved => "RESOLVED",
    }
}

/// One decision in a few lines: what, how bad, how many, where, and one redacted sample.
pub fn lines(d: &Decision) -> String {
    let name = d.signature.as_deref().unwrap_or(&d.category);
    let events = if d.count == 1 { "event" } else { "events" };
    let count = match d.kind {
        Kind::Reminder => format!("{} more {events} since the last notice", d.count),
        Kind::Resolved => format!(
            "{} {events} in all, quiet since {}",
            d.count,
            rfc3339_ms(d.last_seen_ms)
        ),
        Kind::Firing => format!("{} {events} since {}", d.count, rfc3339_ms(d.first_seen_ms)),
    };
    let mut s = format!(
        "[{}] {} {} — {}\n{count} on {} · {} · policy {}",
        mark(d),
        d.severity.to_uppercase(),
        name,
        cut(&d.summary, 200),
        d.gateway,
        d.category,
        d.policy
    );
    if d.kind != Kind::Resolved {
        if let Some(sample) = d.samples.last() {
            s.push_str("\n> ");
            s.push_str(&cut(sample, SAMPLE_CHARS).replace('\n', " "));
        }
    }
    s
}

/// Message texts for `decisions`, each with the decisions it carries.
pub fn texts(decisions: &[Decision], gateway: &str) -> Vec<(String, Vec<usize>)> {
    if decisions.len() == 1 {
        return vec![(cut(&lines(&decisions[0]), MAX_TEXT), vec![0])];
    }
    let mut out: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    let mut size = 0;
    for (i, d) in decisions.iter().enumerate() {
        let l = cut(&lines(d), MAX_TEXT / 2);
        if out.is_empty() || size + l.len() + 2 > MAX_TEXT - 80 {
            out.push((Vec::new(), Vec::new()));
            size = 0;
        }
        size += l.len() + 2;
        let last = out.last_mut().expect("pushed above");
        last.0.push(l);
        last.1.push(i);
    }
    out.into_iter()
        .map(|(ls, idx)| {
            let text = if ls.len() == 1 {
                ls[0].clone()
            } else {
                format!("{} alerts on {gateway}:\n\n{}", ls.len(), ls.join("\n\n"))
            };
            (text, idx)
        })
        .collect()
}

pub struct Render {
    pub telegram: bool,
    pub chat_id: String,
    pub gateway: String,
}

impl super::Render for Render {
    fn render(&mut self, decisions: &[Decision]) -> Vec<(Vec<u8>, Vec<usize>)> {
        texts(decisions, &self.gateway)
            .into_iter()
            .map(|(text, idx)| {
                let body = if self.telegram {
                    serde_json::json!({
                        "chat_id": self.chat_id,
                        "text": text,
                        "disable_web_page_preview": true,
                    })
                } else {
                    serde_json::json!({ "text": text })
                };
                (serde_json::to_vec(&body).unwrap_or_default(), idx)
            })
            .collect()
    }
}

/// An HTTP POST at most once per `min_interval`, with Telegram's retry hint read.
pub struct Chat {
    post: HttpPost,
    target: String,
    pace: Pace,
    telegram: bool,
}

impl Chat {
    pub fn new(c: &ChatConfig, telegram: bool) -> Chat {
        Chat {
            post: HttpPost::new(&c.endpoint, &[("Content-Type", "application/json")]),
            target: c.target.clone(),
            pace: Pace::new(c.min_interval),
            telegram,
        }
    }
}

/// Telegram's `"parameters": {"retry_after": N}` in a 429 answer.
pub fn telegram_retry_after(message: &str) -> Option<Duration> {
    let at = message.find("\"retry_after\"")?;
    let rest = message[at + "\"retry_after\"".len()..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().map(Duration::from_secs)
}

impl Transport for Chat {
    fn send(&self, body: &[u8]) -> Outcome {
        match self.pace.run(|| self.post.send(body)) {
            Outcome::Retry {
                status: Some(429),
                after: None,
                message,
            } if self.telegram => Outcome::Retry {
                status: Some(429),
                after: telegram_retry_after(&message),
                message,
            },
            other => other,
        }
    }

    fn target(&self) -> &str {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(i: u64) -> Decision {
        let mut d = super::super::test_decision(Kind::Firing, &format!("fp{i}"));
        d.samples = vec!["x".repeat(500)];
        d
    }

    #[test]
    fn a_burst_is_one_message_until_the_size_limit_and_nothing_is_left_out() {
        let one = texts(&[d(0)], "gw-17");
        assert_eq!(one.len(), 1);
        assert!(one[0]
            .0
            .starts_with("[FIRING] MEDIUM NET_RESET — Transient network issue"));
        let seven: Vec<Decision> = (0..7).map(d).collect();
        let t = texts(&seven, "gw-17");
        assert_eq!(t.len(), 1);
        assert!(t[0].0.starts_with("7 alerts on gw-17:"), "{}", t[0].0);
        let many: Vec<Decision> = (0..60).map(d).collect();
        let t = texts(&many, "gw-17");
        assert!(t.len() > 1);
        let carried: Vec<usize> = t.iter().flat_map(|(_, i)| i.clone()).collect();
        assert_eq!(carried, (0..60).collect::<Vec<_>>());
        assert!(t.iter().all(|(s, _)| s.chars().count() <= 4096));
    }

    #[test]
    fn telegram_retry_hint() {
        let m = r#"HTTP 429: {"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after": 7}}"#;
        assert_eq!(telegram_retry_after(m), Some(Duration::from_secs(7)));
        assert_eq!(telegram_retry_after("HTTP 429"), None);
    }
}
