//! Shared helpers for npipe's multi-process integration tests.
