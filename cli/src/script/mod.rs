//! The script frontend: runs Django scripts (model classes, fixtures, QuerySets, `print`)
//! on the `quiver` crate, as `quiver run`, `quiver shell` and `quiver explain` do.
//!
//! The stages follow a script through: [`lexer`] (tokens with indentation) → [`parser`]
//! ([`ast`]) → [`interpreter`] (statements and Python values: [`values`], [`builtins`],
//! [`operators`], [`containers`], [`format`](mod@format), [`methods`]) → [`models`] (classes to
//! registered models) and [`queryset`] (Django names to the Rust QuerySet API) and [`transaction`]
//! (`transaction.atomic()` blocks) → [`output`]
//! (the `--format json|table|csv` printers). Errors are Python exceptions with a position
//! ([`error`]).

pub mod ast;
pub mod builtins;
pub mod containers;
pub mod convert;
pub mod error;
pub mod format;
pub mod interpreter;
pub mod lexer;
pub mod methods;
pub mod models;
pub mod operators;
pub mod output;
pub mod parser;
pub mod queryset;
pub mod transaction;
pub mod values;

pub use error::ScriptError;
pub use interpreter::{GlobalKind, Interpreter, Mode};
pub use output::Format;
