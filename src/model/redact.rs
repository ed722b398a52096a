//! Secrets are masked before an event is stored or sent: values of keys that look like
//! credentials (`token`, `password`/`passwd`/`pwd`, `secret`, `cookie`, `authorization`,
//! `api_key`/`api-key`/`apikey`, plus `[logs] redact_keys`) in structured fields and in the
//! message text (`key=value`, `key: value`, `"key": "value"`), and `Bearer …` tokens anywhere.
//! A masked value reads `[REDACTED]`; the key stays, so the line still says what happened.
//!
//! A key matches when it *contains* one of the words (`db_password`, `X-Auth-Token`), as
//! credentials are named in the wild. The cost is one regex scan per message (the regex
//! crate's literal prefilter skips lines without any of the words).
//!
//! It lives in `model` because two stages use it: the log sources before storing, and the
//! signature engine on the samples it keeps (lines `outpost signatures replay` reads never
//! passed a source).

use regex::Regex;

use crate::model::event::Value;

pub const MASK: &str = "[REDACTED]";

const BUILTIN: &[&str] = &[
    "token",
    "password",
    "passwd",
    "pwd",
    "secret",
    "cookie",
    "authorization",
    "api[_-]?key",
];

pub struct Redactor {
    key: Regex,
    text: Regex,
    bearer: Regex,
}

impl Redactor {
    /// `extra`: more key words (plain text, matched case-insensitively).
    pub fn new(extra: &[String]) -> Redactor {
        let mut words: Vec<String> = BUILTIN.iter().map(|w| w.to_string()).collect();
        words.extend(extra.iter().map(|w| regex::escape(w)));
        let alt = words.join("|");
        let key = Regex::new(&format!("(?i)(?:{alt})")).expect("built from escaped words");
        // key, separator (an optional closing quote, `=` or `:`), then the value: quoted, or
        // up to a space or delimiter; an auth scheme word stays in front of the masked part.
        let text = Regex::new(&format!(
            r#"(?i)([\w.-]*(?:{alt})[\w.-]*)("?'?\s*[:=]\s*)("[^"]*"|'[^']*'|(?:(?:Bearer|Basic|Digest|Token)\s+)?(?:\[REDACTED\]|[^\s"',;&}}\]]+))"#
        ))
        .expect("built from escaped words");
        let bearer = Regex::new(r"(?i)\b(Bearer)\s+[A-Za-z0-9._~+/=-]{6,}").expect("constant");
        Redactor { key, text, bearer }
    }

    pub fn is_secret_key(&self, key: &str) -> bool {
        self.key.is_match(key)
    }

    /// The text with secrets masked, or `None` when there is nothing to mask.
    pub fn text(&self, s: &str) -> Option<String> {
        let mut out: Option<String> = None;
        if self.text.is_match(s) {
            let r = self.text.replace_all(s, |c: &regex::Captures<'_>| {
                let v = &c[3];
                // Masked already (the engine redacts samples the sources redacted).
                let masked = if v.ends_with(MASK) {
                    v.to_string()
                } else if v.starts_with('"') {
                    format!("\"{MASK}\"")
                } else if v.starts_with('\'') {
                    format!("'{MASK}'")
                } else if let Some((scheme, _)) = v.split_once(char::is_whitespace) {
                    format!("{scheme} {MASK}")
                } else {
                    MASK.to_string()
                };
                format!("{}{}{masked}", &c[1], &c[2])
            });
            out = Some(r.into_owned());
        }
        let cur = out.as_deref().unwrap_or(s);
        if self.bearer.is_match(cur) {
            let r = self
                .bearer
                .replace_all(cur, format!("$1 {MASK}").as_str())
                .into_owned();
            out = Some(r);
        }
        out.filter(|o| o != s)
    }

    /// Masks fields in place; true when something was masked.
    pub fn fields(&self, fields: &mut [(String, Value)]) -> bool {
        let mut any = false;
        for (k, v) in fields.iter_mut() {
            if self.is_secret_key(k) {
                if *v != Value::Str(MASK.into()) {
                    *v = Value::Str(MASK.into());
                    any = true;
                }
            } else if let Value::Str(s) = v {
                if let Some(m) = self.text(s) {
                    *s = m;
                    any = true;
                }
            }
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_twice_changes_nothing() {
        let r = Redactor::new(&[]);
        for input in [
            "login password=hunter2 ok",
            "Authorization: Bearer eyJhbGciOi.x.y",
            r#"{"api_key": "abc 123"}"#,
        ] {
            let once = r.text(input).unwrap();
            assert_eq!(r.text(&once), None, "{once}");
        }
    }

    #[test]
    fn masks_values_not_keys() {
        let r = Redactor::new(&["session_id".into()]);
        let cases = [
            ("login password=hunter2 ok", "login password=[REDACTED] ok"),
            ("db_password: s3cret next", "db_password: [REDACTED] next"),
            (
                r#"{"api_key": "abc 123", "user": "bob"}"#,
                r#"{"api_key": "[REDACTED]", "user": "bob"}"#,
            ),
            (
                "Authorization: Bearer eyJhbGciOi.x.y",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "curl -H 'X-Auth-Token: abcdef' x",
                "curl -H 'X-Auth-Token: [REDACTED]' x",
            ),
            (
                "sent with bearer abcdef123456 to x",
                "sent with bearer [REDACTED] to x",
            ),
            ("cookie=a1b2; path=/", "cookie=[REDACTED]; path=/"),
            ("SESSION_ID=77aa user=x", "SESSION_ID=[REDACTED] user=x"),
            ("apikey=zzz&x=1", "apikey=[REDACTED]&x=1"),
        ];
        for (input, want) in cases {
            assert_eq!(r.text(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(r.text("nothing secret in here, token count 3"), None);
        let mut f = vec![
            ("Password".to_string(), Value::Str("x".into())),
            ("cmd".to_string(), Value::Str("login --token=abc".into())),
            ("n".to_string(), Value::Int(3)),
        ];
        assert!(r.fields(&mut f));
        assert_eq!(f[0].1, Value::Str(MASK.into()));
        assert_eq!(f[1].1, Value::Str("login --token=[REDACTED]".into()));
    }
}
