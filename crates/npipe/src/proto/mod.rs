//! The sans-IO protocol core: framing, message assembly, handshake.
