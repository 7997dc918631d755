//! End-to-end tests of the `quiver` binary's script frontend: example scripts against
//! Django's output, error messages, the output formats, the shell and `explain`.

mod errors;
mod examples;
mod formats;
mod support;
