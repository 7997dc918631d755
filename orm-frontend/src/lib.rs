//! Quiver
