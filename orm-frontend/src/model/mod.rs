//! Models: Django's model classes defined at run time (or by `#[derive(Model)]`).

mod fields;

pub use fields::*;
