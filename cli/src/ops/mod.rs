//! The work behind the commands, one module per verb.

pub mod build_go;
