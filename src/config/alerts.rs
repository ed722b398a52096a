//! `[alerts]`, resolved: where the signature engine's decisions are delivered.
//!
//! One subsection per sink — `[alerts.alertmanager]`, `[alerts.slack]`, `[alerts.telegram]`,
//! `[alerts.mqtt]`, `[alerts.exec]` — each with the same routing keys ([`Route`]:
//! `enabled`, `min_severity`, `categories`, `escalation_only`) and its own transport keys.
//! Secrets (the Slack webhook URL, the Telegram bot token) are read from a file or an
//! environment variable only, and never appear in a problem message, a log line or
//! `config/status`: what is shown is where the secret came from. The command `exec` runs,
//! like every file path here, is local-only (a remote config cannot make the agent run
//! something else, nor send a file's contents somewhere).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::check::{count, duration};
use super::endpoint::{check_label_name, endpoint, RawEndpoint};
use super::schema::{ClientKeys, RawAlerts};
use super::signatures::SEVERITIES;
use super::Problems;
use crate::net::http::Endpoint;

/// At most this many Alertmanager instances (each has its own store cursor).
pub const MAX_ALERTMANAGERS: usize = 4;

/// Which decisions a sink takes (docs/ALERTS.md, "Routing").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub enabled: bool,
    /// Index into [`SEVERITIES`] (0 = critical): decisions less severe than this are not sent.
    pub min_severity: usize,
    /// Empty: every category.
    pub categories: Vec<String>,
    /// Only `escalate` decisions (a pager, a siren).
    pub escalation_only: bool,
    /// `retry_policy = "hold"`: a `retry` group is announced only from its first reminder on
    /// (the default for people and devices: Slack, Telegram, exec); `"send"`: every decision,
    /// with the policy in the payload for the receiver to route on (the default for
    /// Alertmanager and MQTT).
    pub hold_retry: bool,
}

impl Default for Route {
    fn default() -> Self {
        Route {
            enabled: true,
            min_severity: SEVERITIES.len() - 1,
            categories: Vec::new(),
            escalation_only: false,
            hold_retry: false,
        }
    }
}

/// A secret read from a file or the environment; `Debug` shows where it came from only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub value: String,
    /// `file /etc/outpost/slack-webhook` or `environment SLACK_WEBHOOK`.
    pub origin: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<secret from {}>", self.origin)
    }
}

#[derive(Debug, Clone)]
pub struct AlertmanagerConfig {
    /// One per instance, each sent everything.
    pub endpoints: Vec<Endpoint>,
    pub labels: BTreeMap<String, String>,
    /// While firing, every alert is sent again this often, with `endsAt` 4× this ahead.
    pub resend_interval: Duration,
    /// After a resolve, the resolved alert is sent again for this long.
    pub resolved_resend_for: Duration,
    /// `generatorURL` (the gateway's `/errors` view), when it is known to be reachable.
    pub generator_url: Option<String>,
    pub route: Route,
}

/// Slack or Telegram: one endpoint, paced, bursts collapsed into one message.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub endpoint: Endpoint,
    /// What log lines call the target (never the secret URL).
    pub target: String,
    /// Telegram's chat; empty for Slack.
    pub chat_id: String,
    /// At most one message per this interval.
    pub min_interval: Duration,
    /// Decisions per message at most (a burst beyond it takes several messages).
    pub max_per_message: usize,
    pub route: Route,
}

#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Program and arguments, run without a shell.
    pub command: Vec<String>,
    pub timeout: Duration,
    pub min_interval: Duration,
    pub route: Route,
}

/// `[alerts]`, resolved.
#[derive(Debug, Clone, Default)]
pub struct AlertsConfig {
    pub alertmanager: Option<AlertmanagerConfig>,
    pub slack: Option<ChatConfig>,
    pub telegram: Option<ChatConfig>,
    pub exec: Option<ExecConfig>,
    /// What the MQTT uplink publishes on `<prefix>/<id>/alerts` (everything by default).
    pub mqtt: Route,
}

impl AlertsConfig {
    /// Names of the sinks that deliver (not counting MQTT, which is the uplink's).
    pub fn sinks(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if let Some(a) = &self.alertmanager {
            if a.route.enabled {
                v.push("alertmanager");
            }
        }
        for (name, on) in [
            ("slack", self.slack.as_ref().map(|c| c.route.enabled)),
            ("telegram", self.telegram.as_ref().map(|c| c.route.enabled)),
            ("exec", self.exec.as_ref().map(|c| c.route.enabled)),
        ] {
            if on == Some(true) {
                v.push(name);
            }
        }
        v
    }
}

/// The routing keys every sink subsection has, as written.
struct RawRoute<'a> {
    enabled: Option<bool>,
    min_severity: Option<&'a str>,
    categories: Option<&'a Vec<String>>,
    escalation_only: Option<bool>,
    retry_policy: Option<&'a str>,
}

macro_rules! raw_route {
    ($r:expr) => {
        RawRoute {
            enabled: $r.enabled,
            min_severity: $r.min_severity.as_deref(),
            categories: $r.categories.as_ref(),
            escalation_only: $r.escalation_only,
            retry_policy: $r.retry_policy.as_deref(),
        }
    };
}

fn route(p: &mut Problems, section: &str, raw: RawRoute<'_>, hold_retry: bool) -> Route {
    let RawRoute {
        enabled,
        min_severity,
        categories,
        escalation_only,
        retry_policy,
    } = raw;
    let mut r = Route {
        enabled: enabled.unwrap_or(true),
        escalation_only: escalation_only.unwrap_or(false),
        categories: categories.cloned().unwrap_or_default(),
        hold_retry,
        ..Route::default()
    };
    match retry_policy {
        None => {}
        Some("hold") => r.hold_retry = true,
        Some("send") => r.hold_retry = false,
        Some(other) => p.add(
            &format!("{section}.retry_policy"),
            format!("{other:?}: expected \"hold\" (announce a retry group from its first reminder on) or \"send\" (every decision)"),
        ),
    }
    if let Some(s) = min_severity {
        match SEVERITIES.iter().position(|x| *x == s) {
            Some(i) => r.min_severity = i,
            None => p.add(
                &format!("{section}.min_severity"),
                format!("{s:?} is not a severity: {}", SEVERITIES.join(", ")),
            ),
        }
    }
    for (i, c) in r.categories.iter().enumerate() {
        if c.trim().is_empty() {
            p.add(&format!("{section}.categories[{i}]"), "empty category name");
        }
    }
    r
}

/// Reads a secret from `file` or the environment variable `env` (exactly one of them).
fn secret(
    p: &mut Problems,
    section: &str,
    what: &str,
    file: Option<&str>,
    env: Option<&str>,
) -> Option<Secret> {
    let (fk, ek) = (format!("{section}.{what}_file"), format!("{section}.{what}_env"));
    let (value, origin, key) = match (file, env) {
        (Some(_), Some(_)) => {
            p.add(&fk, format!("set either {what}_file or {what}_env, not both"));
            return None;
        }
        (None, None) => {
            p.add(
                &fk,
                format!("required: the {what} is a secret, read from a file ({what}_file) or an environment variable ({what}_env)"),
            );
            return None;
        }
        (Some(f), None) => match std::fs::read_to_string(f) {
            Ok(s) => (s, format!("file {f}"), fk),
            Err(e) => {
                p.add(&fk, format!("cannot read {f:?}: {e}"));
                return None;
            }
        },
        (None, Some(v)) => match std::env::var(v) {
            Ok(s) => (s, format!("environment {v}"), ek),
            Err(_) => {
                p.add(
                    &ek,
                    format!("the environment variable {v} is not set (or not UTF-8)"),
                );
                return None;
            }
        },
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        p.add(&key, format!("{origin} is empty"));
        return None;
    }
    Some(Secret { value, origin })
}

/// Runs [`endpoint`] on a URL that holds a secret, with the secret masked in every problem.
fn secret_endpoint(
    p: &mut Problems,
    section: &str,
    url: &str,
    secret: &Secret,
    client: ClientKeys<'_>,
    example: &str,
) -> Option<Endpoint> {
    let mut own = Problems::default();
    let ep = endpoint(
        &mut own,
        RawEndpoint {
            section,
            url: Some(url),
            headers: None,
            client,
            default_timeout: Duration::from_secs(10),
            example,
        },
    );
    let masked = format!("<{}>", secret.origin);
    for problem in own.iter() {
        p.add(
            &problem.path,
            problem
                .message
                .replace(url, &masked)
                .replace(&secret.value, &masked),
        );
    }
    ep
}

fn interval(p: &mut Problems, key: &str, v: Option<&str>, default: Duration) -> Duration {
    duration(p, key, v, default, Duration::ZERO, Duration::from_secs(3600))
}

/// A chat sink's `min_interval` (default `default_secs`) and `max_per_message` (20).
fn pacing(
    p: &mut Problems,
    section: &str,
    min_interval: Option<&str>,
    max_per_message: Option<u32>,
    default_secs: u64,
) -> (Duration, usize) {
    let min = interval(
        p,
        &format!("{section}.min_interval"),
        min_interval,
        Duration::from_secs(default_secs),
    );
    let max = count(
        p,
        &format!("{section}.max_per_message"),
        max_per_message,
        20,
        1,
        100,
    );
    (min, max as usize)
}

/// `generatorURL`: `generator_url` as given (`""` turns it off), else the `/errors` view of
/// `[metrics] listen` when that is an address other hosts can reach (not loopback, not the
/// unspecified address, whose reachable name the agent cannot know).
fn generator_url(p: &mut Problems, given: Option<&str>, listen: SocketAddr) -> Option<String> {
    match given {
        Some("") => None,
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => Some(u.to_string()),
        Some(u) => {
            p.add(
                "alerts.alertmanager.generator_url",
                format!("{u:?}: expected an http(s):// URL (or \"\" for none)"),
            );
            None
        }
        None if listen.ip().is_loopback() || listen.ip().is_unspecified() => None,
        None => Some(format!("http://{listen}/errors")),
    }
}

pub fn resolve(p: &mut Problems, raw: Option<&RawAlerts>, listen: SocketAddr) -> Option<AlertsConfig> {
    let raw = raw?;
    let mut out = AlertsConfig::default();
    if let Some(r) = &raw.alertmanager {
        let s = "alerts.alertmanager";
        let rt = route(p, s, raw_route!(r), false);
        let urls = r.urls.clone().unwrap_or_default();
        if urls.is_empty() {
            p.add(
                &format!("{s}.urls"),
                "required: one or more Alertmanager base URLs, e.g. [\"http://alertmanager:9093\"]",
            );
        }
        if urls.len() > MAX_ALERTMANAGERS {
            p.add(
                &format!("{s}.urls"),
                format!("{} URLs; at most {MAX_ALERTMANAGERS}", urls.len()),
            );
        }
        let mut endpoints = Vec::new();
        for (i, u) in urls.iter().enumerate().take(MAX_ALERTMANAGERS) {
            let base = u.trim_end_matches('/');
            let full = if base.ends_with("/api/v2/alerts") {
                base.to_string()
            } else {
                format!("{base}/api/v2/alerts")
            };
            let mut own = Problems::default();
            let ep = endpoint(
                &mut own,
                RawEndpoint {
                    section: s,
                    url: Some(&full),
                    headers: r.headers.as_ref(),
                    client: r.client_keys(),
                    default_timeout: Duration::from_secs(10),
                    example: "http://alertmanager:9093",
                },
            );
            for problem in own.iter() {
                let path = problem
                    .path
                    .replace(&format!("{s}.url"), &format!("{s}.urls[{i}]"));
                p.add(&path, problem.message.clone());
            }
            endpoints.extend(ep);
        }
        let mut labels = BTreeMap::new();
        for (k, v) in r.labels.iter().flatten() {
            if let Err(e) = check_label_name(k) {
                p.add(&format!("{s}.labels.{k}"), e);
            } else if RESERVED_LABELS.contains(&k.as_str()) {
                p.add(
                    &format!("{s}.labels.{k}"),
                    format!("set by outpost itself (one of {})", RESERVED_LABELS.join(", ")),
                );
            } else {
                labels.insert(k.clone(), v.clone());
            }
        }
        let resend_interval = duration(
            p,
            &format!("{s}.resend_interval"),
            r.resend_interval.as_deref(),
            Duration::from_secs(60),
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        let resolved_resend_for = duration(
            p,
            &format!("{s}.resolved_resend_for"),
            r.resolved_resend_for.as_deref(),
            Duration::from_secs(15 * 60),
            Duration::ZERO,
            Duration::from_secs(24 * 3600),
        );
        let generator_url = generator_url(p, r.generator_url.as_deref(), listen);
        out.alertmanager = Some(AlertmanagerConfig {
            endpoints,
            labels,
            resend_interval,
            resolved_resend_for,
            generator_url,
            route: rt,
        });
    }
    if let Some(r) = &raw.slack {
        let s = "alerts.slack";
        let rt = route(p, s, raw_route!(r), true);
        let (min_interval, max) = pacing(p, s, r.min_interval.as_deref(), r.max_per_message, 1);
        let keys = ClientKeys {
            timeout: r.timeout.as_deref(),
            ca_file: r.ca_file.as_deref(),
            ..ClientKeys::default()
        };
        if let Some(sec) = secret(
            p,
            s,
            "webhook_url",
            r.webhook_url_file.as_deref(),
            r.webhook_url_env.as_deref(),
        ) {
            let ep = secret_endpoint(p, s, &sec.value, &sec, keys, "https://hooks.slack.com/services/…");
            if let Some(endpoint) = ep {
                out.slack = Some(ChatConfig {
                    endpoint,
                    target: format!("the Slack webhook (URL from {})", sec.origin),
                    chat_id: String::new(),
                    min_interval,
                    max_per_message: max,
                    route: rt,
                });
            }
        }
    }
    if let Some(r) = &raw.telegram {
        let s = "alerts.telegram";
        let rt = route(p, s, raw_route!(r), true);
        let (min_interval, max) = pacing(p, s, r.min_interval.as_deref(), r.max_per_message, 3);
        let chat_id = match (&r.chat_id, &r.chat_id_file) {
            (Some(_), Some(_)) => {
                p.add(
                    &format!("{s}.chat_id"),
                    "set either chat_id or chat_id_file, not both",
                );
                None
            }
            (Some(c), None) => Some(c.trim().to_string()),
            (None, Some(f)) => match std::fs::read_to_string(f) {
                Ok(c) => Some(c.trim().to_string()),
                Err(e) => {
                    p.add(&format!("{s}.chat_id_file"), format!("cannot read {f:?}: {e}"));
                    None
                }
            },
            (None, None) => {
                p.add(
                    &format!("{s}.chat_id"),
                    "required: the chat's id (chat_id or chat_id_file)",
                );
                None
            }
        };
        let chat_ok = chat_id.as_ref().is_some_and(|c| {
            let ok = !c.is_empty()
                && (c.starts_with('@') || c.trim_start_matches('-').chars().all(|ch| ch.is_ascii_digit()));
            if !ok {
                p.add(
                    &format!("{s}.chat_id"),
                    format!("{c:?}: expected a numeric chat id (e.g. -1001234567890) or @channelname"),
                );
            }
            ok
        });
        let api = r
            .api_url
            .as_deref()
            .unwrap_or("https://api.telegram.org")
            .trim_end_matches('/')
            .to_string();
        let keys = ClientKeys {
            timeout: r.timeout.as_deref(),
            ca_file: r.ca_file.as_deref(),
            ..ClientKeys::default()
        };
        let token = secret(
            p,
            s,
            "bot_token",
            r.bot_token_file.as_deref(),
            r.bot_token_env.as_deref(),
        );
        if let Some(sec) = token {
            if sec.value.contains(['/', '?', '#', ' ']) {
                p.add(
                    &format!("{s}.bot_token_file"),
                    format!(
                        "the token from {} is not a bot token (it has /, ?, # or spaces)",
                        sec.origin
                    ),
                );
            } else {
                let url = format!("{api}/bot{}/sendMessage", sec.value);
                let ep = secret_endpoint(p, s, &url, &sec, keys, "https://api.telegram.org");
                if let (Some(endpoint), true) = (ep, chat_ok) {
                    out.telegram = Some(ChatConfig {
                        endpoint,
                        target: format!(
                            "Telegram chat {} via {api} (token from {})",
                            chat_id.clone().unwrap_or_default(),
                            sec.origin
                        ),
                        chat_id: chat_id.unwrap_or_default(),
                        min_interval,
                        max_per_message: max,
                        route: rt,
                    });
                }
            }
        }
    }
    if let Some(r) = &raw.exec {
        let s = "alerts.exec";
        let rt = route(p, s, raw_route!(r), true);
        let command = r.command.clone().unwrap_or_default();
        match command.first() {
            None => p.add(
                &format!("{s}.command"),
                "required: the program and its arguments, e.g. [\"/usr/local/bin/siren\", \"--on\"] (run without a shell)",
            ),
            Some(prog) if !prog.starts_with('/') => p.add(
                &format!("{s}.command"),
                format!("{prog:?}: give the program's absolute path (no shell, no PATH lookup)"),
            ),
            Some(prog) => {
                use std::os::unix::fs::PermissionsExt;
                match std::fs::metadata(prog) {
                    Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
                    Ok(_) => p.add(&format!("{s}.command"), format!("{prog:?} is not an executable file")),
                    Err(e) => p.add(&format!("{s}.command"), format!("{prog:?}: {e}")),
                }
            }
        }
        let timeout = duration(
            p,
            &format!("{s}.timeout"),
            r.timeout.as_deref(),
            Duration::from_secs(10),
            Duration::from_millis(100),
            Duration::from_secs(600),
        );
        let min_interval = interval(
            p,
            &format!("{s}.min_interval"),
            r.min_interval.as_deref(),
            Duration::from_secs(1),
        );
        out.exec = Some(ExecConfig {
            command,
            timeout,
            min_interval,
            route: rt,
        });
    }
    if let Some(r) = &raw.mqtt {
        out.mqtt = route(p, "alerts.mqtt", raw_route!(r), false);
    }
    Some(out)
}

/// Labels outpost sets on every alert; static labels may not replace them.
pub const RESERVED_LABELS: &[&str] = &[
    "alertname",
    "severity",
    "category",
    "policy",
    "fingerprint",
    "gateway",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::RawAlerts;

    fn resolve_toml(text: &str) -> Result<AlertsConfig, Vec<String>> {
        let raw: RawAlerts = toml::from_str(text).expect("shape");
        let mut p = Problems::default();
        let listen: SocketAddr = "127.0.0.1:9100".parse().unwrap();
        let out = resolve(&mut p, Some(&raw), listen);
        if p.is_empty() {
            Ok(out.expect("section present"))
        } else {
            Err(p.iter().map(|x| format!("{}: {}", x.path, x.message)).collect())
        }
    }

    #[test]
    fn secrets_come_from_files_or_the_environment_and_are_never_shown() {
        let dir = std::env::temp_dir().join(format!("outpost-alerts-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hook = dir.join("hook");
        std::fs::write(&hook, "not a url with s3cr3t\n").unwrap();
        let err = resolve_toml(&format!(
            "[slack]\nwebhook_url_file = {:?}\n",
            hook.display().to_string()
        ))
        .unwrap_err();
        assert!(err.iter().all(|e| !e.contains("s3cr3t")), "{err:?}");
        assert!(err.iter().any(|e| e.contains("<file ")), "{err:?}");
        std::fs::write(&hook, "https://hooks.example/services/T0/B0/s3cr3t\n").unwrap();
        let ok = resolve_toml(&format!(
            "[slack]\nwebhook_url_file = {:?}\n",
            hook.display().to_string()
        ))
        .unwrap();
        let slack = ok.slack.unwrap();
        assert_eq!(slack.endpoint.url, "https://hooks.example/services/T0/B0/s3cr3t");
        assert!(!slack.target.contains("s3cr3t"));
        assert!(!format!("{:?}", ok.telegram).contains("s3cr3t"));
        std::env::set_var("OUTPOST_TEST_TG_TOKEN", "123:ABC");
        let ok = resolve_toml("[telegram]\nbot_token_env = \"OUTPOST_TEST_TG_TOKEN\"\nchat_id = \"-100200\"\napi_url = \"http://127.0.0.1:9\"\n").unwrap();
        let tg = ok.telegram.unwrap();
        assert_eq!(tg.endpoint.url, "http://127.0.0.1:9/bot123:ABC/sendMessage");
        assert!(!tg.target.contains("ABC"));
        let err = resolve_toml("[telegram]\nchat_id = \"x y\"\n").unwrap_err();
        assert!(
            err.iter()
                .any(|e| e.starts_with("alerts.telegram.bot_token_file: required")),
            "{err:?}"
        );
        assert!(
            err.iter().any(|e| e.starts_with("alerts.telegram.chat_id:")),
            "{err:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let err = resolve_toml(
            "[alertmanager]\nurls = [\"ftp://x\"]\nlabels = { severity = \"x\", \"bad-name\" = \"y\" }\nmin_severity = \"urgent\"\nresend_interval = \"0s\"\n\
             [exec]\ncommand = [\"siren\"]\n[mqtt]\ncategories = [\"\"]\n",
        )
        .unwrap_err();
        for key in [
            "alerts.alertmanager.urls[0]",
            "alerts.alertmanager.labels.severity",
            "alerts.alertmanager.labels.bad-name",
            "alerts.alertmanager.min_severity",
            "alerts.alertmanager.resend_interval",
            "alerts.exec.command",
            "alerts.mqtt.categories[0]",
        ] {
            assert!(
                err.iter().any(|e| e.starts_with(&format!("{key}:"))),
                "{key} in {err:?}"
            );
        }
    }

    #[test]
    fn alertmanager_urls_get_the_api_path_and_the_generator_url_follows_the_listen_address() {
        let ok = resolve_toml("[alertmanager]\nurls = [\"http://a:9093\", \"http://b:9093/\"]\n").unwrap();
        let am = ok.alertmanager.clone().unwrap();
        let urls: Vec<_> = am.endpoints.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://a:9093/api/v2/alerts", "http://b:9093/api/v2/alerts"]
        );
        assert_eq!(am.generator_url, None, "loopback listen: not reachable");
        let mut p = Problems::default();
        assert_eq!(
            generator_url(&mut p, None, "192.0.2.7:9100".parse().unwrap()).as_deref(),
            Some("http://192.0.2.7:9100/errors")
        );
        assert_eq!(generator_url(&mut p, None, "0.0.0.0:9100".parse().unwrap()), None);
        assert_eq!(
            generator_url(&mut p, Some(""), "192.0.2.7:9100".parse().unwrap()),
            None
        );
        assert!(p.is_empty());
        assert_eq!(am.route, Route::default());
        assert_eq!(ok.sinks(), ["alertmanager"]);
    }
}
