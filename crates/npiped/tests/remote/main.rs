//! End-to-end tests of npiped and the library's remote client.
//!
//! Each test starts its own `npiped` (the real binary) on a free loopback
//! port, with its own namespace root and test certificates, and drives
//! local pipe servers and remote clients through it. `netns` makes two
//! hosts in network namespaces; `child` is the entry point of helper
//! processes (this test binary run again).

mod async_names;
mod child;
mod cli;
mod e2e;
mod faults;
mod flush;
mod hostile;
mod limits;
mod netns;
mod security;
mod support;
