//! Limits and defaults shared by every mode, written once.

/// `--max-line-bytes`: the longest line or multi-line document read (kube-apiserver's
/// own request body limit is 3 MiB, so real events stay far below it).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

/// `--block-size`: how much is read at once (a tuning knob, hidden from `--help`).
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// The deepest JSON nesting read: Go's `encoding/json` (so kube-apiserver, and every Go
/// consumer) refuses deeper documents with "exceeded max depth". Deeper lines are invalid.
pub const MAX_DEPTH: usize = 10_000;
