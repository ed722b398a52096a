//! Path globs for file sources: `*`, `?` and `[…]` (`[!…]` negates, `a-z` ranges) within one
//! path component, as the shell has them; components without wildcards are taken as written,
//! so `/var/log/app/*.log` reads one directory and `/var/log/*/current` reads one level.
//! Hidden files match only a pattern that starts with `.`.

use std::path::PathBuf;

/// Whether `name` matches the component pattern `pat`.
pub fn matches(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = class(&p, pi, n[ni]) {
                        if ok {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[at] == '['`: (matched, index after `]`).
fn class(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut ok = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                ok = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                ok = true;
            }
            i += 1;
        }
    }
    (i < p.len()).then_some((ok != negate, i + 1))
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Every existing path the absolute glob matches (files and directories alike; the caller
/// keeps the regular files), sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        if !has_wildcard(comp) {
            for base in current {
                next.push(base.join(comp));
            }
        } else {
            for base in current {
                let Ok(rd) = std::fs::read_dir(&base) else {
                    continue;
                };
                let mut names: Vec<String> = rd
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| (!n.starts_with('.') || comp.starts_with('.')) && matches(comp, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| base.join(n)));
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current.retain(|p| p.exists());
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_patterns() {
        for (p, n, want) in [
            ("*.log", "app.log", true),
            ("*.log", "app.log.1", false),
            ("app.log*", "app.log.1", true),
            ("a?c", "abc", true),
            ("[ab]*", "bx", true),
            ("[!ab]*", "bx", false),
            ("x[0-9].log", "x7.log", true),
            ("x[0-9].log", "xa.log", false),
            ("*a*b*", "zzazzbzz", true),
            ("*a*b", "zzazzbzzc", false),
            ("*", "", true),
        ] {
            assert_eq!(matches(p, n), want, "{p} vs {n}");
        }
    }

    #[test]
    fn expands_directories() {
        let d = std::env::temp_dir().join(format!("outpost-glob-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for f in ["a/x.log", "a/y.txt", "b/z.log", "b/.h.log"] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let got = expand(&format!("{}/*/*.log", d.display()));
        assert_eq!(got, vec![d.join("a/x.log"), d.join("b/z.log")]);
        assert!(expand(&format!("{}/none/*.log", d.display())).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
