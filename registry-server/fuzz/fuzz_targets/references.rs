//! Everything parsed out of a request path: the split into repository and resource, names,
//! tags, digests and references.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wcomp_registry::oci::{Digest, Reference, valid_repo_name, valid_tag};
use wcomp_registry::routes::parse_oci_path;

fuzz_target!(|text: &str| {
    if let Some(d) = Digest::parse(text) {
        // A digest is kept exactly as sent, and its parts describe it.
        assert_eq!(d.as_str(), text);
        assert_eq!(format!("{}:{}", d.algorithm().as_str(), d.hex()), text);
    }
    match Reference::parse(text) {
        Some(Reference::Tag(t)) => assert!(valid_tag(&t) && t == text),
        Some(Reference::Digest(d)) => assert_eq!(d.as_str(), text),
        None => {}
    }
    if let Some((name, _)) = parse_oci_path(text) {
        assert!(text.starts_with(name));
        let _ = valid_repo_name(name);
    }
});
