//! The QuerySet methods that insert rows: `create` and `bulk_create`.
//!
//! Both go through [`Database::insert_rows`](crate::Database), which applies Django's
//! `Model.save()` rules for a new object: values cast to the field types, automatic keys,
//! defaults, and NOT NULL checked before the rows become visible.

use quiver_engine::ScalarValue;

use crate::error::Result;
use crate::queryset::QuerySet;
use crate::results::Instance;

/// Something that can be inserted as one row: `(field name or attname, value)` pairs.
pub trait IntoFieldValues {
    /// The pairs; fields left out get their defaults.
    fn into_field_values(self) -> Vec<(String, ScalarValue)>;
}

impl IntoFieldValues for Vec<(String, ScalarValue)> {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self
    }
}

impl IntoFieldValues for Vec<(&str, ScalarValue)> {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    }
}

impl<const N: usize> IntoFieldValues for [(&str, ScalarValue); N] {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    }
}

impl IntoFieldValues for Instance {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        (&self).into_field_values()
    }
}

impl IntoFieldValues for &Instance {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self.values()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }
}

impl QuerySet {
    /// `create(**kwargs)`: inserts one row and returns it as stored (automatic key and
    /// defaults filled in). The QuerySet's filters do not apply, as in Django.
    pub fn create(&self, values: impl IntoFieldValues) -> Result<Instance> {
        let model = self.db.model(&self.model)?;
        let mut made = self
            .db
            .insert_rows(&model, vec![values.into_field_values()])?;
        Ok(made.remove(0))
    }

    /// `bulk_create(objs)`: inserts every row in one atomic append; returns how many.
    pub fn bulk_create<R: IntoFieldValues>(
        &self,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<usize> {
        let model = self.db.model(&self.model)?;
        let rows: Vec<Vec<(String, ScalarValue)>> = rows
            .into_iter()
            .map(IntoFieldValues::into_field_values)
            .collect();
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(self.db.insert_rows(&model, rows)?.len())
    }
}
