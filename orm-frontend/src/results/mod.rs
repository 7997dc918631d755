//! What evaluating a QuerySet gives back: [`Rows`] of [`Row`]s, model [`Instance`]s, and the
//! [`FromValue`] conversions behind `row.get::<T>(name)`.

mod from_value;
mod in_bulk;
mod instance;
pub(crate) mod related;
mod rows;

pub use from_value::{date, date_value, datetime, datetime_value, time_value, FromValue};
pub use in_bulk::InBulk;
pub use instance::Instance;
pub use related::Related;
pub use rows::{Row, Rows};
