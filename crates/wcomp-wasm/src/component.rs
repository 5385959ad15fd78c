//! Validating a component and decoding its world.

use crate::Error;
use wasmparser::{Validator, WasmFeatures};
use wit_parser::decoding::DecodedWasm;
use wit_parser::{Resolve, WorldId};

/// A component's world, decoded from its type.
pub struct DecodedComponent {
    pub resolve: Resolve,
    pub world: WorldId,
}

/// Full wasmparser validation, component model on (every feature wasmparser knows, so
/// components from newer toolchains are not refused for a proposal we merely disabled).
pub fn validate(name: &str, bytes: &[u8]) -> Result<(), Error> {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map(drop)
        .map_err(|e| binary_error(name, bytes.len(), e))
}

/// Turns a wasmparser error into ours; running out of bytes is reported as truncation.
pub(crate) fn binary_error(name: &str, len: usize, e: wasmparser::BinaryReaderError) -> Error {
    let message = e.message().to_string();
    if message.contains("unexpected end") {
        Error::Truncated {
            name: name.to_string(),
            len,
            message: format!("{message} at byte offset {:#x}", e.offset()),
        }
    } else {
        Error::Invalid {
            name: name.to_string(),
            offset: e.offset() as usize,
            message,
        }
    }
}

/// What an encoded wasm binary decodes to.
pub enum Decoded {
    Component(DecodedComponent),
    /// A WIT package encoded as wasm (what `wasm-tools component wit --wasm` writes).
    WitPackage(Resolve, wit_parser::PackageId),
}

/// Decodes the WIT world of a component, or the package of an encoded WIT package.
pub fn decode(bytes: &[u8]) -> Result<Decoded, Error> {
    match wit_parser::decoding::decode(bytes) {
        Ok(DecodedWasm::Component(resolve, world)) => {
            Ok(Decoded::Component(DecodedComponent { resolve, world }))
        }
        Ok(DecodedWasm::WitPackage(resolve, pkg)) => Ok(Decoded::WitPackage(resolve, pkg)),
        Err(e) => Err(Error::Undecodable {
            message: format!("{e:#}"),
        }),
    }
}

/// Validates and decodes a component, which may turn out to be an encoded WIT package.
/// Both passes read the whole binary, so on large inputs they run on two threads.
pub fn load_any(name: &str, bytes: &[u8]) -> Result<Decoded, Error> {
    const PARALLEL_ABOVE: usize = 1 << 20;
    let (valid, decoded) = if bytes.len() > PARALLEL_ABOVE {
        std::thread::scope(|s| {
            let v = s.spawn(|| validate(name, bytes));
            let d = decode(bytes);
            (v.join().expect("validator thread panicked"), d)
        })
    } else {
        (validate(name, bytes), decode(bytes))
    };
    // Validation errors explain more (offsets, truncation) than decoding errors.
    valid?;
    decoded
}

/// Validates and decodes a component; an encoded WIT package is an error here.
pub fn load(name: &str, bytes: &[u8]) -> Result<DecodedComponent, Error> {
    match load_any(name, bytes)? {
        Decoded::Component(c) => Ok(c),
        Decoded::WitPackage(..) => Err(Error::WitPackageNotComponent {
            name: name.to_string(),
        }),
    }
}
