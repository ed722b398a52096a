//! NFS client and server statistics from `/proc/net/rpc/nfs` and `/proc/net/rpc/nfsd`:
//! node_exporter's `nfs` and `nfsd` collectors, with the procedure names of node_exporter's
//! procfs library as the `method` label. A host that neither mounts nor serves NFS has
//! neither file: node_exporter's "no data".

use std::path::Path;

use super::read::{counter, gauge, read_or_no_data, CollectError};
use crate::model::Family;

const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write", "Create",
    "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];
const V3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];
/// The client's NFSv4 operations in `proc4` order (older kernels write fewer: the rest are 0).
const CLIENT_V4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];
/// The server's NFSv4 operations by their index in `proc4ops`, those node_exporter reports.
/// node_exporter 1.5's procfs maps the last three one slot early (the kernel's 35 and 36 are
/// SETCLIENTID and SETCLIENTID_CONFIRM, 37 VERIFY, 38 WRITE, 39 RELEASE_LOCKOWNER); reproduced
/// so that series and dashboards match it (docs/HOST.md).
const SERVER_V4_OPS: [(usize, &str); 33] = [
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "Verify"),
    (36, "Write"),
    (37, "RelLockOwner"),
];

/// `label v1 v2 …` lines; `th` keeps only its first two (the rest are fractions).
fn lines(path: &Path, text: &str) -> Result<Vec<(String, Vec<u64>)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut w = line.split_ascii_whitespace();
        let Some(label) = w.next() else { continue };
        let rest: Vec<&str> = w.collect();
        let take = if label == "th" {
            rest.len().min(2)
        } else {
            rest.len()
        };
        let values = rest[..take]
            .iter()
            .map(|v| v.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| CollectError::parse(path, format!("bad values in {line:?}")))?;
        out.push((label.to_string(), values));
    }
    Ok(out)
}

fn get<'a>(l: &'a [(String, Vec<u64>)], label: &str) -> Option<&'a [u64]> {
    l.iter().find(|(n, _)| n == label).map(|(_, v)| v.as_slice())
}

/// `procN count v1 … vcount`: the values, checked against the count.
fn procs<'a>(
    path: &Path,
    l: &'a [(String, Vec<u64>)],
    label: &str,
    min: usize,
) -> Result<Option<&'a [u64]>, CollectError> {
    let Some(v) = get(l, label) else { return Ok(None) };
    match v.split_first() {
        Some((n, rest)) if *n as usize == rest.len() && rest.len() >= min => Ok(Some(rest)),
        _ => Err(CollectError::parse(path, format!("invalid {label} line"))),
    }
}

fn need<'a>(
    path: &Path,
    l: &'a [(String, Vec<u64>)],
    label: &str,
    len: usize,
) -> Result<&'a [u64], CollectError> {
    get(l, label)
        .filter(|v| v.len() >= len)
        .ok_or_else(|| CollectError::parse(path, format!("missing or short {label} line")))
}

fn one(name: &str, help: &str, v: u64, c: bool) -> Family {
    let mut f = if c { counter(name, help) } else { gauge(name, help) };
    f.push(Vec::new(), v as f64);
    f
}

/// The `net` line: packets by transport (node_exporter labels it `protocol` for the client,
/// `proto` for the server) and TCP connections.
fn network(side: &str, label: &'static str, net: &[u64], out: &mut Vec<Family>) {
    let mut packets = counter(
        format!("node_{side}_packets_total"),
        "Total NFSd network packets (sent+received) by protocol type.",
    );
    packets.push(vec![(label, "udp".into())], net[1] as f64);
    packets.push(vec![(label, "tcp".into())], net[2] as f64);
    out.push(packets);
    out.push(one(
        &format!("node_{side}_connections_total"),
        "Total number of NFSd TCP connections.",
        net[3],
        true,
    ));
}

pub fn nfs(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("net/rpc/nfs");
    let l = lines(&path, &read_or_no_data(&path)?)?;
    let net = need(&path, &l, "net", 4)?;
    let rpc = need(&path, &l, "rpc", 3)?;
    network("nfs", "protocol", net, out);
    out.push(one(
        "node_nfs_rpcs_total",
        "Total number of RPCs performed.",
        rpc[0],
        true,
    ));
    out.push(one(
        "node_nfs_rpc_retransmissions_total",
        "Number of RPC transmissions performed.",
        rpc[1],
        true,
    ));
    out.push(one(
        "node_nfs_rpc_authentication_refreshes_total",
        "Number of RPC authentication refreshes performed.",
        rpc[2],
        true,
    ));
    let mut req = counter("node_nfs_requests_total", "Number of NFS procedures invoked.");
    let mut push = |proto: &str, names: &[&str], v: &[u64]| {
        for (i, m) in names.iter().enumerate() {
            req.push(
                vec![("method", m.to_string()), ("proto", proto.to_string())],
                v.get(i).copied().unwrap_or(0) as f64,
            );
        }
    };
    if let Some(v) = procs(&path, &l, "proc2", 18)? {
        push("2", &V2, v);
    }
    if let Some(v) = procs(&path, &l, "proc3", 22)? {
        push("3", &V3, v);
    }
    if let Some(v) = procs(&path, &l, "proc4", 0)? {
        push("4", &CLIENT_V4, v);
    }
    out.push(req);
    Ok(())
}

pub fn nfsd(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("net/rpc/nfsd");
    let l = lines(&path, &read_or_no_data(&path)?)?;
    let rc = need(&path, &l, "rc", 3)?;
    out.push(one(
        "node_nfsd_reply_cache_hits_total",
        "Total number of NFSd Reply Cache hits (client lost server response).",
        rc[0],
        true,
    ));
    out.push(one(
        "node_nfsd_reply_cache_misses_total",
        "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
        rc[1],
        true,
    ));
    out.push(one(
        "node_nfsd_reply_cache_nocache_total",
        "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
        rc[2],
        true,
    ));
    let fh = need(&path, &l, "fh", 1)?;
    out.push(one(
        "node_nfsd_file_handles_stale_total",
        "Total number of NFSd stale file handles",
        fh[0],
        true,
    ));
    let io = need(&path, &l, "io", 2)?;
    out.push(one(
        "node_nfsd_disk_bytes_read_total",
        "Total NFSd bytes read.",
        io[0],
        true,
    ));
    out.push(one(
        "node_nfsd_disk_bytes_written_total",
        "Total NFSd bytes written.",
        io[1],
        true,
    ));
    let th = need(&path, &l, "th", 1)?;
    out.push(one(
        "node_nfsd_server_threads",
        "Total number of NFSd kernel threads that are running.",
        th[0],
        false,
    ));
    // Kernels since 5.x no longer write the read-ahead cache line.
    if let Some(ra) = get(&l, "ra").filter(|v| v.len() >= 12) {
        out.push(one(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            ra[0],
            false,
        ));
        out.push(one(
            "node_nfsd_read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            ra[11],
            true,
        ));
    }
    let net = need(&path, &l, "net", 4)?;
    network("nfsd", "proto", net, out);
    let rpc = need(&path, &l, "rpc", 5)?;
    out.push(one(
        "node_nfsd_server_rpcs_total",
        "Total number of NFSd RPCs.",
        rpc[0],
        true,
    ));
    let mut errors = counter(
        "node_nfsd_rpc_errors_total",
        "Total number of NFSd RPC errors by error type.",
    );
    for (e, v) in [("fmt", rpc[2]), ("auth", rpc[3]), ("cInt", rpc[4])] {
        errors.push(vec![("error", e.to_string())], v as f64);
    }
    out.push(errors);
    let mut req = counter(
        "node_nfsd_requests_total",
        "Total number NFSd Requests by method and protocol.",
    );
    // The server's tables leave out Null.
    if let Some(v) = procs(&path, &l, "proc2", 18)? {
        for (i, m) in V2.iter().enumerate().skip(1) {
            req.push(
                vec![("method", m.to_string()), ("proto", "2".into())],
                v[i] as f64,
            );
        }
    }
    if let Some(v) = procs(&path, &l, "proc3", 22)? {
        for (i, m) in V3.iter().enumerate().skip(1) {
            req.push(
                vec![("method", m.to_string()), ("proto", "3".into())],
                v[i] as f64,
            );
        }
    }
    if let Some(v) = procs(&path, &l, "proc4ops", 39)? {
        for (i, m) in SERVER_V4_OPS {
            req.push(
                vec![("method", m.to_string()), ("proto", "4".into())],
                v.get(i).copied().unwrap_or(0) as f64,
            );
        }
    }
    out.push(req);
    Ok(())
}
