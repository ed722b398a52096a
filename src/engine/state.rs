//! The engine's state file: groups, windows, cooldowns, firing states, counts and samples,
//! so a restart or a `kill -9` does not forget what fired (a crash-looping service must not
//! re-alert on every restart).
//!
//! `engine-state.bin` in the data directory: a format byte, then the postcard-encoded
//! [`Groups`], then a CRC-32 of both. Written whole to a temporary file, fsynced and renamed
//! over the old one, so a reader sees the old state or the new, never a torn one. The task
//! writes it right after each decision is durable in the store, and otherwise at most every
//! `state_interval` while something changed: a crash loses at most that much counting,
//! never a cooldown or a firing state. A file that does not decode (damage, a format from
//! another version) is moved aside to `engine-state.bin.corrupt` and the engine starts
//! empty, saying so.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::groups::Groups;

pub const FILE: &str = "engine-state.bin";
const FORMAT: u8 = 1;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

pub fn encode(g: &Groups) -> Vec<u8> {
    let mut out = vec![FORMAT];
    out.extend(postcard::to_allocvec(g).expect("encoding into a Vec cannot fail"));
    let crc = crc32fast::hash(&out);
    out.extend(crc.to_le_bytes());
    out
}

pub fn decode(b: &[u8]) -> Result<Groups, String> {
    if b.len() < 5 {
        return Err("too short".into());
    }
    let (body, crc) = b.split_at(b.len() - 4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != want {
        return Err("checksum mismatch".into());
    }
    match body.split_first() {
        Some((&FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
        Some((v, _)) => Err(format!("unknown format {v}")),
        None => Err("empty".into()),
    }
}

/// Writes the state atomically.
pub fn save(data_dir: &Path, g: &Groups) -> std::io::Result<()> {
    save_bytes(data_dir, &encode(g))
}

/// Writes encoded state atomically (encode under the lock, write outside it).
pub fn save_bytes(data_dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path(data_dir))?;
    if let Ok(d) = std::fs::File::open(data_dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What loading found.
pub enum Loaded {
    Fresh,
    Restored(Box<Groups>),
    /// The file was damaged and moved aside (the reason).
    Damaged(String),
}

pub fn load(data_dir: &Path) -> Loaded {
    let p = path(data_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Fresh,
        Err(e) => return Loaded::Damaged(format!("cannot read {}: {e}", p.display())),
    };
    match decode(&bytes) {
        Ok(g) => Loaded::Restored(Box::new(g)),
        Err(e) => {
            let aside = data_dir.join(format!("{FILE}.corrupt"));
            let _ = std::fs::rename(&p, &aside);
            Loaded::Damaged(format!(
                "{} does not decode ({e}); moved to {}",
                p.display(),
                aside.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::groups::{Meta, Settings};

    #[test]
    fn state_round_trips_and_damage_is_detected_and_moved_aside() {
        let dir = std::env::temp_dir().join(format!("outpost-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Settings {
            window_ms: 300_000,
            cooldown_ms: 600_000,
            resolve_ms: 900_000,
            repeat_ms: 3_600_000,
            max_groups: 10,
            decisions_per_minute: 60,
            max_skew_ms: 3_600_000,
        };
        let meta = Meta {
            category: "c".into(),
            signature: None,
            policy: "notify".into(),
            severity: "low".into(),
            summary: "s".into(),
            min_count: 2,
        };
        let mut g = Groups::new();
        g.observe(&s, "f", "canon", &meta, 1000, || {
            "password=[REDACTED]".to_string()
        });
        save(&dir, &g).unwrap();
        let Loaded::Restored(back) = load(&dir) else {
            panic!("not restored")
        };
        assert_eq!(back.groups["f"].total, 1);
        assert_eq!(back.groups["f"].samples.len(), 1);
        let mut bytes = std::fs::read(path(&dir)).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(path(&dir), bytes).unwrap();
        assert!(matches!(load(&dir), Loaded::Damaged(_)));
        assert!(dir.join("engine-state.bin.corrupt").exists());
        assert!(matches!(load(&dir), Loaded::Fresh));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
