// Package apiv1 is the central server's HTTP API, version 1, as both sides
// see it: the JSON wire types, the stable error codes, the Ed25519 request
// signing that every kiosk request carries, and a small net/http client the
// kiosk daemon and veinctl use.
//
// The server (server/api) and the kiosk (kiosk/...) share this package so the
// two can never disagree on a field name or on the bytes that are signed. It
// imports neither fiber nor pgx (deps_test.go enforces it).
//
// docs/api.md describes the API for people; the server serves an OpenAPI 3
// document at /api/v1/openapi.json.
package apiv1
