//! Large parts composed through stand-ins, their bytes copied in only at the end.
//!
//! Composing a 12 MB part spends nearly all its time on the part's bytes, not on the
//! composition: reading them, hashing them for the record, wac-graph reading every section
//! of them, and checking the output that embeds them. When the same file is composed
//! again, none of that can find anything new. So a composer remembers, for each large part
//! file it read, the file's identity ([`Stamp`]: device, inode, size, modification and
//! change times) and the digest of what it read. When a file's identity is remembered,
//! its digest is remembered as valid, and a stand-in for it is stored
//! ([`wcomp_wasm::component::stand_in`]: the same types, imports and exports, no data and
//! no code), the part is composed through its stand-in and the file's bytes are copied
//! into the output in its place ([`write_output`]): read once, never parsed or hashed.
//!
//! Trusting a stamp is what git's index and make do, with one more guard: a stamp is
//! remembered only when the file's last change was [`SETTLE`] before it was read, so any
//! later change moves its change time (which no one can set back). The file is opened once,
//! when the part is loaded, and checked again after its bytes are copied: a file replaced
//! or rewritten in between fails the composition rather than producing an output whose
//! record names other bytes.

use crate::Error;
use crate::part::Part;
use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wcomp_core::Digest;
use wcomp_wasm::component::LARGE;

/// How long before it is read a file must have last changed for its stamp to be
/// remembered: well above the coarsest timestamp granularity of a local file system.
pub const SETTLE: Duration = Duration::from_secs(1);

/// A file's identity: when any of it changes, the file is read again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    #[cfg(unix)]
    fn of(file: &File) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// Elsewhere no stamp is trusted: every part is read.
    #[cfg(not(unix))]
    fn of(_: &File) -> Option<Stamp> {
        None
    }

    /// Whether the file last changed [`SETTLE`] before `read_at`.
    fn settled(&self, read_at: SystemTime) -> bool {
        let (Ok(secs), Ok(nanos)) = (u64::try_from(self.ctime.0), u32::try_from(self.ctime.1))
        else {
            return false;
        };
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos) + SETTLE < read_at
    }

    /// The memory's file name for this file: one entry per file, overwritten as it changes.
    fn key(&self) -> String {
        format!("{}-{}", self.dev, self.ino)
    }

    fn line(&self, digest: &Digest) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1, digest
        )
    }
}

/// A part file read in full, with its stamp when it is worth remembering.
pub(crate) struct ReadPart {
    pub(crate) bytes: Vec<u8>,
    pub(crate) seen: Option<Seen>,
}

/// A large part file's stamp as it was when read, and whether it had settled then.
pub(crate) struct Seen {
    stamp: Stamp,
    settled: bool,
}

/// A part file whose stand-in is composed in its place: the file, open since the part was
/// loaded, and its stamp then.
pub(crate) struct Original {
    file: File,
    stamp: Stamp,
    path: PathBuf,
}

impl Original {
    /// The size of the file.
    pub(crate) fn size(&self) -> u64 {
        self.stamp.size
    }

    /// Another handle on the same open file (for the writer, which outlives the part).
    fn try_clone(&self) -> std::io::Result<Original> {
        Ok(Original {
            file: self.file.try_clone()?,
            stamp: self.stamp.clone(),
            path: self.path.clone(),
        })
    }
}

/// What [`open`] found.
pub(crate) enum Opened {
    Read(ReadPart),
    StandIn {
        stand_in: Vec<u8>,
        digest: Digest,
        original: Original,
    },
}

/// Opens a part file: its stand-in when the file is large and remembered (see the module
/// docs), its bytes otherwise.
pub(crate) fn open(path: &Path) -> Result<Opened, wcomp_wasm::Error> {
    let read_at = SystemTime::now();
    let failed = |e| wcomp_wasm::input::read_error(path, e);
    // The error names the path itself (`wcomp_wasm::Error::Read`).
    #[allow(clippy::disallowed_methods)]
    let file = File::open(path).map_err(failed)?;
    let stamp = Stamp::of(&file).filter(|s| s.size > LARGE as u64);
    if let Some(stamp) = &stamp
        && let Some((stand_in, digest)) = recall(stamp)
    {
        return Ok(Opened::StandIn {
            stand_in,
            digest,
            original: Original {
                file,
                stamp: stamp.clone(),
                path: path.to_path_buf(),
            },
        });
    }
    // Reading a `File` to its end reserves its size first.
    let mut bytes = Vec::new();
    (&file).read_to_end(&mut bytes).map_err(failed)?;
    Ok(Opened::Read(ReadPart {
        bytes,
        seen: stamp.map(|stamp| Seen {
            settled: stamp.settled(read_at),
            stamp,
        }),
    }))
}

fn dirs() -> Option<(PathBuf, PathBuf)> {
    let dir = wcomp_wasm::component::memory_dir()?;
    Some((dir.join("files"), dir.join("stand-ins")))
}

/// The stand-in and digest of a file with `stamp`, when all three are remembered.
fn recall(stamp: &Stamp) -> Option<(Vec<u8>, Digest)> {
    let (files, stand_ins) = dirs()?;
    let line = fs_err::read_to_string(files.join(stamp.key())).ok()?;
    let (_, digest) = line.trim_end().rsplit_once(' ')?;
    let digest: Digest = digest.parse().ok()?;
    if line != stamp.line(&digest) {
        return None;
    }
    if !wcomp_wasm::component::remembered_valid(&digest) {
        return None;
    }
    let stand_in = fs_err::read(stand_ins.join(format!("{}.wasm", digest.hex()))).ok()?;
    wcomp_wasm::component::stands_in_for(&stand_in, &digest).then_some((stand_in, digest))
}

/// After a composition succeeded: remembers the stamp and stores a stand-in of every large
/// part read from a settled file whose bytes are now remembered as valid. Best effort: a
/// memory that cannot be written only means reading the file again next time.
pub fn remember(parts: &[Part]) {
    let Some((files, stand_ins)) = dirs() else {
        return;
    };
    for p in parts {
        let Some(seen) = p.seen().filter(|s| s.settled) else {
            continue;
        };
        let digest = p.digest();
        if !wcomp_wasm::component::remembered_valid(digest) {
            continue;
        }
        let stored = stand_ins.join(format!("{}.wasm", digest.hex()));
        if !stored.is_file() {
            let Some(bytes) = wcomp_wasm::component::stand_in(&p.bytes, digest) else {
                continue;
            };
            if crate::atomic::write(&stored, &bytes).is_err() {
                continue;
            }
        }
        let _ = crate::atomic::write(
            &files.join(seen.stamp.key()),
            seen.stamp.line(digest).as_bytes(),
        );
    }
}

/// Where an original goes in an output: at byte `at` of the bytes around the originals.
pub(crate) struct Splice {
    at: usize,
    part: String,
    digest: Digest,
    original: Original,
}

impl Splice {
    /// The size of the original.
    pub(crate) fn size(&self) -> u64 {
        self.original.size()
    }

    fn failed(&self, why: String) -> Error {
        Error::Encode(format!(
            "part `{}` ({}) {why}",
            self.part,
            self.original.path.display()
        ))
    }

    fn changed(&self) -> Error {
        Error::Changed {
            part: self.part.clone(),
            path: self.original.path.display().to_string(),
        }
    }
}

/// The output with each stand-in among `parts` cut out, its section header saying its
/// original's size, and where each original goes ([`write_output`]). wac-graph embeds each part's
/// bytes unchanged as a nested component section; a stand-in has its original's component
/// type, so the output's other sections stay valid as they are.
pub(crate) fn cut(output: &[u8], parts: &[&Part]) -> Result<(Vec<u8>, Vec<Splice>), Error> {
    let standing: Vec<(&Part, &Original)> = parts
        .iter()
        .filter_map(|p| p.original().map(|o| (*p, o)))
        .collect();
    let nested = wcomp_wasm::component::nested_components("composition", output)
        .map_err(crate::encode::blame_output)?;
    let mut around = Vec::with_capacity(output.len());
    let mut splices = Vec::new();
    let mut done = 0;
    for body in nested {
        let Some(&(part, original)) = standing.iter().find(|(p, _)| p.bytes == body) else {
            continue;
        };
        // The body is a slice of `output`: where it starts and where its section's header
        // (id 4, then its size as LEB128, whose last byte alone has the top bit clear) does.
        let start = body.as_ptr() as usize - output.as_ptr() as usize;
        let mut header = start - 1;
        while header > done && output[header - 1] & 0x80 != 0 {
            header -= 1;
        }
        header -= 1;
        debug_assert_eq!(output[header], 4, "a component section");
        around.extend_from_slice(&output[done..header]);
        around.push(4);
        let len = u32::try_from(original.size()).map_err(|_| {
            Error::Encode(format!(
                "part `{}` is too large to embed ({} bytes)",
                part.name,
                original.size()
            ))
        })?;
        wasm_encoder::Encode::encode(&len, &mut around);
        let original = original.try_clone().map_err(|e| {
            Error::Encode(format!("part `{}` cannot be read again: {e}", part.name))
        })?;
        splices.push(Splice {
            at: around.len(),
            part: part.name.clone(),
            digest: part.digest().clone(),
            original,
        });
        done = start + body.len();
    }
    around.extend_from_slice(&output[done..]);
    Ok((around, splices))
}

/// Writes `around` with the originals in their places to `out`, and returns the sha256 of
/// what it wrote. The originals are copied file to file by the kernel. The output's digest
/// is a function of `around`, where the originals go and their digests: when that is
/// remembered (the same composition written before), it is not computed again; otherwise a
/// second thread reads the originals again to hash the output as they are copied, and the
/// result is remembered. Either way each original's file is checked afterwards to be still
/// as its stamp says.
pub(crate) fn write_output(
    around: &[u8],
    splices: &[Splice],
    out: &mut File,
) -> Result<Digest, Error> {
    use std::io::Write as _;
    let pieces = || {
        let mut done = 0;
        splices.iter().map(move |s| {
            let piece = &around[done..s.at];
            done = s.at;
            piece
        })
    };
    let tail = &around[splices.last().map_or(0, |s| s.at)..];
    let memo = output_memo(around, splices);
    let known = memo
        .as_ref()
        .and_then(|m| fs_err::read_to_string(m).ok())
        .and_then(|d| d.trim_end().parse::<Digest>().ok());
    std::thread::scope(|scope| {
        let hashing = known.is_none().then(|| {
            scope.spawn(|| -> Result<Digest, Error> {
                use sha2::Digest as _;
                let mut hasher = sha2::Sha256::new();
                let mut buf = vec![0u8; 1 << 20];
                for (piece, s) in pieces().zip(splices) {
                    hasher.update(piece);
                    let mut at = 0u64;
                    while at < s.size() {
                        let n = read_at(&s.original.file, &mut buf, at)
                            .map_err(|e| s.failed(format!("could not be read again: {e}")))?;
                        if n == 0 {
                            return Err(s.changed());
                        }
                        hasher.update(&buf[..n]);
                        at += n as u64;
                    }
                }
                hasher.update(tail);
                Ok(Digest::from_sha256(hasher.finalize().into()))
            })
        });
        let written = (|| -> Result<(), Error> {
            let io = Error::Write;
            for (piece, s) in pieces().zip(splices) {
                out.write_all(piece).map_err(io)?;
                let mut source = &s.original.file;
                source
                    .rewind()
                    .map_err(|e| s.failed(format!("could not be read again: {e}")))?;
                let copied = std::io::copy(&mut source.take(s.size()), out).map_err(io)?;
                if copied != s.size() {
                    return Err(s.changed());
                }
            }
            out.write_all(tail).map_err(io)
        })();
        let digest = match hashing {
            Some(h) => h.join().expect("hashing thread panicked"),
            None => Ok(known.clone().expect("remembered when not hashed")),
        };
        written?;
        let digest = digest?;
        for s in splices {
            if Stamp::of(&s.original.file).as_ref() != Some(&s.original.stamp) {
                return Err(s.changed());
            }
        }
        if let (Some(memo), None) = (&memo, &known) {
            let _ = crate::atomic::write(memo, format!("{digest}\n").as_bytes());
        }
        Ok(digest)
    })
}

/// Where the digest of an output with stand-ins is remembered: named by the sha256 of the
/// bytes around the originals, where each goes and its digest.
fn output_memo(around: &[u8], splices: &[Splice]) -> Option<PathBuf> {
    use sha2::Digest as _;
    let dir = wcomp_wasm::component::memory_dir()?.join("outputs");
    let mut key = sha2::Sha256::new();
    key.update(around);
    for s in splices {
        key.update((s.at as u64).to_le_bytes());
        key.update(s.digest.hex().as_bytes());
    }
    Some(dir.join(hex::encode(key.finalize())))
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

/// Never called: without stamps there are no stand-ins.
#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Err(std::io::Error::other("no stand-ins on this platform"))
}

#[cfg(all(test, unix))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: (4, 5),
            ctime: (1_000, 7),
        }
    }

    #[test]
    fn a_stamp_settles_a_second_after_the_last_change() {
        let changed = SystemTime::UNIX_EPOCH + Duration::new(1_000, 7);
        assert!(!stamp().settled(changed));
        assert!(!stamp().settled(changed + Duration::from_millis(999)));
        assert!(stamp().settled(changed + Duration::from_millis(1_001)));
    }

    /// A splice at byte `at` of `around` for the file at `path`, stamped as it is now.
    fn splice(path: &Path, at: usize) -> Splice {
        let file = File::open(path).unwrap();
        Splice {
            at,
            part: "big".to_string(),
            digest: Digest::sha256(&fs_err::read(path).unwrap()),
            original: Original {
                stamp: Stamp::of(&file).unwrap(),
                file,
                path: path.to_path_buf(),
            },
        }
    }

    /// The output is the bytes around with the originals in their places, hashed as
    /// written; an original that changed since it was stamped fails the write.
    #[test]
    fn originals_are_copied_in_place_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs_err::write(&a, vec![7u8; 3 << 20]).unwrap();
        fs_err::write(&b, b"second").unwrap();
        let around = b"head|middle|tail";
        let splices = [splice(&a, 5), splice(&b, 12)];
        let out_path = dir.path().join("out");
        let mut out = File::create(&out_path).unwrap();
        let digest = write_output(around, &splices, &mut out).unwrap();
        let written = fs_err::read(&out_path).unwrap();
        let mut expected = b"head|".to_vec();
        expected.extend(vec![7u8; 3 << 20]);
        expected.extend_from_slice(b"middle|second");
        expected.extend_from_slice(b"tail");
        assert!(written == expected, "the originals in their places");
        assert_eq!(digest, Digest::sha256(&expected));

        fs_err::write(&b, b"second, longer").unwrap();
        let mut out = File::create(&out_path).unwrap();
        let e = write_output(around, &splices, &mut out).unwrap_err();
        assert!(
            e.to_string()
                .contains("changed while it was being composed"),
            "{e}"
        );
    }

    #[test]
    fn a_stamp_line_names_every_field_and_the_digest() {
        let d = Digest::sha256(b"x");
        assert_eq!(stamp().line(&d), format!("3 4 5 1000 7 {d}\n"));
        assert_eq!(stamp().key(), "1-2");
    }
}
