//! Test support shared by every integration test: the `orchestrace` binary ([`cli`]), an
//! in-process OTLP receiver ([`receiver`]), synthetic traces, fixtures and snapshots
//! ([`traces`]), and span-tree snapshots of in-process runs ([`spantree`]).
//!
//! Each test file includes this module (`mod support;`) and uses the parts it needs.
#![allow(dead_code, unused_imports, unreachable_pub, missing_docs)]

pub mod cli;
pub mod receiver;
pub mod spantree;
pub mod traces;

pub use cli::{orchestrace, run_exported, trace_id};
pub use receiver::{closed_port, Attr, Receiver, RecvSpan};
