//! The parts of a composition, read from files or pulled from registries; shared by
//! `wcomp compose` and a workspace's `[composition]`.

use std::path::Path;
use wcomp_compose::Error;
use wcomp_compose::part::{Part, name_from_path};

/// Reads and decodes every part (a file, or a registry reference pulled and verified), on
/// as many threads as there are parts. A file's source is recorded relative to `base`.
/// Without `decode_worlds` (a WAC file's `--dep`s, wired by the WAC file), their worlds
/// are not decoded ([`Part::load_undecoded`]). A large file composed before is loaded as
/// its stand-in ([`Part::from_file`]); call [`wcomp_compose::standin::remember`] once the
/// composition is written.
pub fn load(
    specs: &[(Option<String>, String)],
    base: &Path,
    decode_worlds: bool,
) -> Result<Vec<Part>, Error> {
    let read = if decode_worlds {
        Part::load
    } else {
        Part::load_undecoded
    };
    let load_one = |(name, path): &(Option<String>, String)| {
        if wcomp_compose::part::is_reference(path) {
            let name = name
                .clone()
                .unwrap_or_else(|| wcomp_compose::part::name_from_reference(path));
            return fetch_part(&name, path, read);
        }
        let name = name.clone().unwrap_or_else(|| name_from_path(path));
        let source = Path::new(path)
            .strip_prefix(base)
            .unwrap_or(Path::new(path));
        Part::from_file(
            &name,
            &source.display().to_string(),
            Path::new(path),
            decode_worlds,
        )
    };
    let loaded: Vec<Result<Part, Error>> = if all_small_files(specs) {
        specs.iter().map(load_one).collect()
    } else {
        // The first part on this thread, the others on one thread each.
        std::thread::scope(|s| {
            let Some((first, rest)) = specs.split_first() else {
                return Vec::new();
            };
            let handles: Vec<_> = rest
                .iter()
                .map(|spec| s.spawn(move || load_one(spec)))
                .collect();
            std::iter::once(load_one(first))
                .chain(
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("part loader panicked")),
                )
                .collect()
        })
    };
    let parts = loaded.into_iter().collect::<Result<Vec<_>, _>>()?;
    for (i, p) in parts.iter().enumerate() {
        if parts[..i].iter().any(|q| q.name == p.name) {
            return Err(Error::DuplicatePart(p.name.clone()));
        }
    }
    Ok(parts)
}

/// Whether every part is a local file and together they are not large
/// ([`wcomp_wasm::component::LARGE`]): then they are read and decoded on the calling
/// thread, since starting a thread costs more than decoding a small component.
/// A file that cannot be examined counts as large; reading it reports the problem.
fn all_small_files(specs: &[(Option<String>, String)]) -> bool {
    let mut total = 0u64;
    for (_, path) in specs {
        if wcomp_compose::part::is_reference(path) {
            return false;
        }
        match fs_err::metadata(path) {
            Ok(m) => total += m.len(),
            Err(_) => return false,
        }
    }
    total <= wcomp_wasm::component::LARGE as u64
}

/// Pulls a part named by registry reference, verifying its digest, signature and
/// provenance under the trust policy (as `wcomp pull` does), and keeps where it came from
/// and who signed it for the composition record.
fn fetch_part(
    name: &str,
    reference: &str,
    read: fn(&str, &str, Vec<u8>) -> Result<Part, Error>,
) -> Result<Part, Error> {
    let fail = |message: String| Error::Fetch {
        name: name.to_string(),
        reference: reference.to_string(),
        message,
    };
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let file = dir.path().join("part.wasm");
    let pulled = crate::ops::pull::run(
        crate::ops::pull::Options {
            reference: reference.to_string(),
            output: Some(Some(file.clone())),
            key: None,
            skip_verify: false,
            insecure: false,
        },
        &crate::printer::Bar::new(),
    )
    .map_err(|e| fail(format!("{e:#}")))?;
    let bytes = wcomp_wasm::input::read_file(&file)?;
    let mut part = read(name, reference, bytes)?;
    part.origin = Some(wcomp_compose::part::Origin {
        reference: pulled.reference.clone(),
        manifest_digest: pulled.manifest_digest.clone(),
        signer: pulled
            .verification
            .as_ref()
            .and_then(|v| v.signers.first())
            .map(|s| s.key_id.clone()),
    });
    Ok(part)
}
