//! node_exporter's `textfile` collector: `*.prom` files in `[sample.textfile] directory`,
//! written by the gateway's own scripts (modem, UPS, backup jobs), merged into the host
//! metrics — and so stored and forwarded by every sink like them.
//!
//! node_exporter's rules, reproduced: files are read in name order; a file that does not
//! parse, or that carries client-side timestamps, is skipped whole and sets
//! `node_textfile_scrape_error` 1; each file read adds `node_textfile_mtime_seconds{file}`.
//! Families of the same name merge across files when their help agrees (a family without
//! help gets "Metric read from <files>"); a later file's family whose help disagrees is
//! dropped. Samples of one family missing a label the others have get it empty.
//!
//! One deviation: histogram and summary series keep their names and values (`x_bucket{le}`,
//! `x_sum`, `x_count`, `x{quantile}`) but are exposed untyped, because a host family holds
//! one sample name; `histogram_quantile()` and rate rules over them work unchanged.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use super::read::gauge;
use crate::model::{Family, Labels, MetricKind};
use crate::sources::scrape::parse::{self, Format, Kind};

/// Most distinct label names the textfiles may bring in over the process's life: label names
/// are interned for the life of the process, so an endless supply would be a leak.
const MAX_LABEL_NAMES: usize = 4096;
/// Largest `.prom` file read.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// A label name as `&'static str`, shared by every sample that uses it.
fn intern(name: &str) -> Option<&'static str> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(n) = set.get(name) {
        return Some(n);
    }
    if set.len() >= MAX_LABEL_NAMES {
        return None;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(leaked);
    Some(leaked)
}

/// A file's sample: its labels as written and its value.
type RawSample = (Vec<(String, String)>, f64);

struct Merged {
    help: Option<String>,
    kind: MetricKind,
    files: Vec<String>,
    samples: Vec<RawSample>,
}

/// Reads the directory; files that fail set `scrape_error`. Without a directory configured
/// only `node_textfile_scrape_error 0` is reported, as node_exporter does with an empty path.
pub fn collect(dir: Option<&Path>, out: &mut Vec<Family>) {
    let mut error = false;
    let mut mtimes = gauge(
        "node_textfile_mtime_seconds",
        "Unixtime mtime of textfiles successfully read.",
    );
    let mut merged: BTreeMap<String, Merged> = BTreeMap::new();
    match dir.map(|d| (d, std::fs::read_dir(d))) {
        None => {}
        Some((dir, Err(e))) => {
            log::error!("textfile: cannot read directory {}: {e}", dir.display());
            error = true;
        }
        Some((dir, Ok(rd))) => {
            let mut files: Vec<String> = rd
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".prom"))
                .collect();
            files.sort();
            for name in files {
                let path = dir.join(&name);
                match read_one(&path, &mut merged) {
                    Ok(mtime) => mtimes.push(vec![("file", path.display().to_string())], mtime),
                    Err(msg) => {
                        log::error!("textfile: {}: {msg}", path.display());
                        error = true;
                    }
                }
            }
        }
    }
    for (name, m) in merged {
        let help = m
            .help
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| format!("Metric read from {}", m.files.join(", ")));
        let mut f = Family::new(name, help, m.kind);
        // Every sample gets every label name of its family, empty where it had none.
        let names: BTreeSet<&str> = m
            .samples
            .iter()
            .flat_map(|(l, _)| l.iter().map(|(k, _)| k.as_str()))
            .collect();
        let names: Vec<&'static str> = names.into_iter().filter_map(intern).collect();
        let mut seen = HashSet::new();
        for (labels, v) in &m.samples {
            let full: Labels = names
                .iter()
                .map(|n| {
                    let v = labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                    (*n, v.unwrap_or_default())
                })
                .collect();
            if seen.insert(full.clone()) {
                f.push(full, *v);
            }
        }
        out.push(f);
    }
    out.push(mtimes);
    let mut e = gauge(
        "node_textfile_scrape_error",
        "1 if there was an error opening or reading a file, 0 otherwise",
    );
    e.push(Vec::new(), if error { 1.0 } else { 0.0 });
    out.push(e);
}

/// Parses one file into `merged`; its mtime in seconds.
fn read_one(path: &Path, merged: &mut BTreeMap<String, Merged>) -> Result<f64, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let body = std::fs::read(path).map_err(|e| e.to_string())?;
    let exp = parse::parse(&body, Format::Text, usize::MAX).map_err(|e| e.to_string())?;
    if exp
        .families
        .iter()
        .flat_map(|f| &f.samples)
        .any(|s| s.timestamp_ms.is_some())
    {
        return Err("textfile contains unsupported client-side timestamps, skipping entire file".into());
    }
    if exp
        .families
        .iter()
        .flat_map(|f| &f.samples)
        .flat_map(|s| &s.labels)
        .any(|(k, _)| intern(k).is_none())
    {
        return Err(format!(
            "more than {MAX_LABEL_NAMES} distinct label names across textfiles"
        ));
    }
    let file = path.display().to_string();
    for fam in exp.families {
        let split = matches!(fam.kind, Kind::Histogram | Kind::GaugeHistogram | Kind::Summary);
        let help = (!fam.help.is_empty()).then(|| fam.help.clone());
        let kind = if split {
            MetricKind::Untyped
        } else {
            fam.kind.metric_kind()
        };
        // A histogram's series go under their own names (see the module header).
        let mut by_name: BTreeMap<String, Vec<RawSample>> = BTreeMap::new();
        for s in fam.samples {
            let name = if split { s.name } else { fam.name.clone() };
            by_name.entry(name).or_default().push((s.labels, s.value));
        }
        for (name, samples) in by_name {
            match merged.get_mut(&name) {
                None => {
                    merged.insert(
                        name,
                        Merged {
                            help: help.clone(),
                            kind,
                            files: vec![file.clone()],
                            samples,
                        },
                    );
                }
                Some(m) if m.help == help && m.kind == kind => {
                    m.files.push(file.clone());
                    m.samples.extend(samples);
                }
                Some(_) => log::warn!(
                    "textfile: {file}: {name} has a help text or type other than an earlier file's; left out"
                ),
            }
        }
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as f64 / 1e9)
        .unwrap_or(0.0);
    Ok(mtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/node_exporter-1.5.0/collector/fixtures/textfile")
    }

    /// node_exporter's textfile cases: our output for the case's directory against its
    /// `.out` file (series and help of every family; mtimes set to 1 s as its test does).
    fn case(name: &str) {
        let dir = fixtures().join(name);
        let mut fams = Vec::new();
        collect(Some(&dir), &mut fams);
        for f in fams
            .iter_mut()
            .filter(|f| f.name == "node_textfile_mtime_seconds")
        {
            for s in &mut f.samples {
                s.value = 1.0;
            }
        }
        let mut ours = String::new();
        crate::model::text::encode(&fams, &mut ours);
        let ours = ours.replace(&fixtures().display().to_string(), "fixtures/textfile");
        let want = std::fs::read_to_string(fixtures().join(format!("{name}.out")))
            .unwrap_or_else(|e| panic!("{name}.out: {e} (the shared node_exporter fixtures)"));
        // Comments as written; samples as (series, value) so that 1e+06 equals 1000000.
        let keep = |t: &str| -> Vec<(String, u64)> {
            t.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| match l.rsplit_once(' ') {
                    Some((series, v)) if !l.starts_with('#') => {
                        (series.to_string(), v.parse::<f64>().expect("a value").to_bits())
                    }
                    _ => (l.to_string(), 0),
                })
                .collect()
        };
        let (mut o, mut w) = (keep(&ours), keep(&want));
        o.sort();
        w.sort();
        assert_eq!(o, w, "case {name}:\n{ours}");
    }

    #[test]
    fn node_exporters_textfile_cases() {
        for name in [
            "two_metric_files",
            "no_metric_files",
            "nonexistent_path",
            "client_side_timestamp",
            "inconsistent_metrics",
            "metrics_merge_same_help",
            "metrics_merge_empty_help",
            "metrics_merge_no_help",
            "metrics_merge_different_help",
        ] {
            case(name);
        }
    }
}
