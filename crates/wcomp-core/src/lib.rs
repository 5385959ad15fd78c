//! Shared vocabulary of wcomp.
