//! Everything a user needs: `use quiver::prelude::*;`.
//!
//! The database and models, QuerySets and their results, every expression (`F`, `Value`,
//! `Q` and `q!`, aggregates, functions, `Case`/`When`), the typed-model traits, and the
//! Arrow/chrono types that appear in the API.

pub use crate::database::{Database, TableUsage};
pub use crate::error::{Error, Result};
pub use crate::expressions::*;
pub use crate::model::*;
pub use crate::q;
pub use crate::queryset::{
    prefetch_related_objects, with_cte, AggregateArg, CteJoinType, IntoFieldValues, OrderItem,
    Prefetch, QuerySet, RelatedManager, SelectRelated, CTE,
};
pub use crate::results::{
    date, date_value, datetime, datetime_value, time_value, FromValue, InBulk, Instance, Related,
    Row, Rows,
};
pub use crate::typed::{FromRow, IntoRow, ModelDef};
pub use arrow::array::RecordBatch;
pub use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
pub use quiver_engine::{ScalarValue, SessionConfig};
