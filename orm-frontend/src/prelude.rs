//! Everything a user needs: `use quiver::prelude::*;`.

pub use crate::database::{Database, TableUsage};
pub use crate::error::{Error, Result};
pub use crate::expressions_placeholder::{
    Avg, Count, Expression, Max, Min, OrderBy, Sum, Value, F, Q,
};
pub use crate::model::*;
pub use crate::q;
pub use crate::queryset::{AggregateArg, IntoFieldValues, OrderItem, QuerySet};
pub use crate::results::{
    date, date_value, datetime, datetime_value, time_value, FromValue, InBulk, Instance, Row, Rows,
};
pub use crate::typed::{FromRow, IntoRow, ModelDef};
pub use arrow::array::RecordBatch;
pub use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
pub use quiver_engine::{ScalarValue, SessionConfig};
