// Package secrecy holds no code: its tests hold the whole module to the
// rule that a secret's raw value leaves its redacting wrapper
// (secretstore.Value, client.Sensitive) only where it must: in the resolve
// answer, in the stores that encrypt or compare it, in `credflow run` and
// the commands that print a value the user asked for, and in the tests.
package secrecy
