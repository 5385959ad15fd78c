//! OCI manifest and descriptor types and media types: the shared ones of `wcomp-core`,
//! under the names this crate has always given them.

pub use wcomp_core::oci::media_type::{
    DOCKER_MANIFEST, OCI_EMPTY, OCI_IMAGE_CONFIG, OCI_INDEX, OCI_MANIFEST, WASM_CONFIG, WASM_LAYER,
};
pub use wcomp_core::oci::{Descriptor, ImageIndex as Index, ImageManifest, MalformedJson};
