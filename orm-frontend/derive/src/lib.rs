//! `#[derive(Model)]` for Quiver.
