//! `node_uname_info` (the `uname(2)` fields as labels) and `node_time_seconds`.

use crate::model::{Family, MetricKind};

fn field(raw: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn collect_uname(out: &mut Vec<Family>) -> Result<(), std::io::Error> {
    // SAFETY: utsname is plain data; uname fills it or fails.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut f = Family::new(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        MetricKind::Gauge,
    );
    f.push(
        vec![
            ("domainname", field(&u.domainname)),
            ("machine", field(&u.machine)),
            ("nodename", field(&u.nodename)),
            ("release", field(&u.release)),
            ("sysname", field(&u.sysname)),
            ("version", field(&u.version)),
        ],
        1.0,
    );
    out.push(f);
    Ok(())
}

pub fn collect_time(out: &mut Vec<Family>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.push(Family::single(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        MetricKind::Gauge,
        now,
    ));
}
