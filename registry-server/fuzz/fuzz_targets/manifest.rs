//! Manifest JSON as pushed: the first byte picks the Content-Type (so every media type's
//! path is reached), the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wcomp_registry::oci::parse_manifest;

const TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/json",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = TYPES[usize::from(pick) % TYPES.len()];
    if let Ok(m) = parse_manifest(content_type, body) {
        // Every digest the manifest names was checked on the way in.
        for d in m.blobs.iter().chain(&m.children).chain(&m.foreign) {
            assert!(wcomp_registry::oci::Digest::parse(d.as_str()).is_some());
        }
    }
});
