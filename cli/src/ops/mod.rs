//! The work behind the commands: one module per verb, called by `commands/`.

pub mod build;
pub mod build_go;
pub mod manifest;
pub mod scaffold;
pub mod templates;
pub mod toolchain;
