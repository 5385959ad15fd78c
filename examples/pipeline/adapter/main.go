// The pipeline's storage adapter, written in Go: it exports example:pipeline/api,
// imports the validator (example:pipeline/validate) and the host's database
// (wcomp:sql/query). `wcomp build` generates the bindings next to this file; the
// implementation is in export_example_pipeline_api/.
package main
