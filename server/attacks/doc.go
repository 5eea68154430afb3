// Package attacks is the attack regression suite of issue 11: every attack
// tried against centrald, played as an attacker would, over HTTP only,
// against a real server on a loopback listener, on both stores (SQLite, and
// PostgreSQL with TEST_DATABASE_URL; VEINKIOSK_REQUIRE_POSTGRES=1 makes a
// missing database a failure).
//
// Each test is an attack and asserts the precise refusal (status and error
// code). Every attack of issue 11 is fixed and runs; none is skipped.
// docs/security.md lists them.
//
// The package has no code outside its tests.
package attacks
