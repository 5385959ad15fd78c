//! Exit codes shared by every wcomp command.
//!
//! They are part of the command-line contract (documented in docs/cli.md), so scripts can
//! tell "the thing you checked is wrong" from "the check could not run".

/// The operation succeeded (for `validate`: every component conforms).
pub const SUCCESS: u8 = 0;
/// The operation ran and its answer is "no": a component that does not validate or
/// conform, a signature that does not verify, an input that is not what it claims to be.
pub const FAILURE: u8 = 1;
/// The operation could not run: bad flags, a missing file, a world that cannot be loaded.
pub const USAGE: u8 = 2;
