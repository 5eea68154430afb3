// Package wire is the finger-vein scanner protocol codec shared by the driver
// (devices/veinscan) and the simulator (simulators/veinsim): frames, commands,
// payloads, error codes, chunked image transfer and the attestation and device
// certificate formats. docs/scanner-protocol.md is the specification; this
// package is its reference implementation.
//
// It is a leaf: it imports nothing of this module.
package wire
