//! Pipe and mailslot names: parse, validate, fold case.
// Filled in by the name-module work (see ARCHITECTURE.md).

/// A parsed pipe or mailslot name (placeholder until the name module lands).
#[derive(Debug, Clone)]
pub struct PipeName;
