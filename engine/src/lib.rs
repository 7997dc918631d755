//! Quiver engine
