// Package archtest holds the tests that enforce ovsmesh's package layout: which
// package may import what, and that every package documents itself once. It has
// no code of its own.
package archtest
