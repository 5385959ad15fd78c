//! Real Wasm for tests, made without a toolchain: components from WIT worlds (wit-component's
//! dummy core module, as `wasm-tools component embed --dummy | component new` makes them)
//! and encoded WIT packages.

/// A component for `world` of the WIT package `wit`.
pub fn component(wit: &str, world: &str) -> Vec<u8> {
    use wit_component::{ComponentEncoder, StringEncoding};
    use wit_parser::{ManglingAndAbi, Resolve};
    let mut resolve = Resolve::new();
    let pkg = resolve.push_str("component.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .unwrap();
    ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// A WIT package encoded as wasm (what `wasm-tools component wit --wasm` writes).
pub fn wit_package(wit: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::new();
    let pkg = resolve.push_str("package.wit", wit).unwrap();
    wit_component::encode(&resolve, pkg, false).unwrap()
}

/// `bytes` with a custom section `name` appended.
pub fn with_custom_section(mut bytes: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    wcomp_wasm::component::append_custom_section(&mut bytes, name, data);
    bytes
}

/// A `producers` custom section naming one tool per field (`(field, name, version)`).
pub fn producers(fields: &[(&str, &str, &str)]) -> Vec<u8> {
    use wasm_encoder::Encode as _;
    let mut out = Vec::new();
    (fields.len() as u32).encode(&mut out);
    for (field, name, version) in fields {
        field.encode(&mut out);
        1u32.encode(&mut out);
        name.encode(&mut out);
        version.encode(&mut out);
    }
    out
}
