//! Component analysis for wcomp.
