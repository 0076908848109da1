// Package storetest is the conformance suite every SQL backend of package
// store passes, and the helpers that give a test its own isolated database:
// a fresh SQLite file, or a fresh schema in the PostgreSQL named by
// YJSHUB_TEST_DATABASE_URL. Other packages' store-backed tests use
// [Backends] to run on both.
package storetest
