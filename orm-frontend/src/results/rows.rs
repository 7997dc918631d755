//! [`Rows`] and [`Row`]: what a QuerySet returns.
//!
//! `Rows` keeps the Arrow batches the engine produced (zero-copy, available through
//! [`Rows::batches`]) and hands out [`Row`]s, which copy one row's values out for typed access
//! by column name (`row.get::<i64>("id")?`). `Display` prints an ASCII table.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use quiver_engine::ScalarValue;

use crate::error::{Error, Result};
use crate::results::FromValue;

/// The result of a query: its schema and batches.
#[derive(Debug, Clone)]
pub struct Rows {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    columns: Arc<[String]>,
}

impl Rows {
    /// Rows over `batches` (all with `schema`).
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Rows {
        let columns: Arc<[String]> = schema.fields().iter().map(|f| f.name().clone()).collect();
        Rows {
            schema,
            batches,
            columns,
        }
    }

    /// The Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The record batches.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The record batches, by value.
    pub fn into_batches(self) -> Vec<RecordBatch> {
        self.batches
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<Row> {
        let mut offset = index;
        for batch in &self.batches {
            if offset < batch.num_rows() {
                return self.row_of(batch, offset).ok();
            }
            offset -= batch.num_rows();
        }
        None
    }

    /// The first row.
    pub fn first(&self) -> Option<Row> {
        self.get(0)
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = Row> + '_ {
        self.batches.iter().flat_map(move |batch| {
            (0..batch.num_rows()).filter_map(move |i| self.row_of(batch, i).ok())
        })
    }

    /// Every value of one column, read as `T` (`rows.column::<String>("name")?`).
    pub fn column<T: FromValue>(&self, name: &str) -> Result<Vec<T>> {
        self.iter().map(|row| row.get::<T>(name)).collect()
    }

    fn row_of(&self, batch: &RecordBatch, index: usize) -> Result<Row> {
        let values = batch
            .columns()
            .iter()
            .map(|array| ScalarValue::try_from_array(array.as_ref(), index))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Engine(e.into()))?;
        Ok(Row::new(Arc::clone(&self.columns), values))
    }
}

impl fmt::Display for Rows {
    /// An ASCII table, with the header even when there are no rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match arrow::util::pretty::pretty_format_batches_with_schema(
            Arc::clone(&self.schema),
            &self.batches,
        ) {
            Ok(table) => write!(f, "{table}"),
            Err(e) => write!(f, "<cannot display rows: {e}>"),
        }
    }
}

impl IntoIterator for &Rows {
    type Item = Row;
    type IntoIter = std::vec::IntoIter<Row>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter().collect::<Vec<_>>().into_iter()
    }
}

/// One result row: values by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<ScalarValue>,
}

impl Row {
    /// A row of `values` named by `columns` (same length).
    pub fn new(columns: Arc<[String]>, values: Vec<ScalarValue>) -> Row {
        Row { columns, values }
    }

    /// A row from `(name, value)` pairs.
    pub fn from_pairs<S: Into<String>>(pairs: impl IntoIterator<Item = (S, ScalarValue)>) -> Row {
        let (columns, values): (Vec<String>, Vec<ScalarValue>) =
            pairs.into_iter().map(|(n, v)| (n.into(), v)).unzip();
        Row::new(columns.into(), values)
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, in column order.
    pub fn values(&self) -> &[ScalarValue] {
        &self.values
    }

    /// `(name, value)` pairs in column order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ScalarValue)> {
        self.columns.iter().map(String::as_str).zip(&self.values)
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True for a row without columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether the row has a column called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The value of column `name` read as `T`. Unknown columns and impossible conversions are
    /// errors naming the column.
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T> {
        let value = self.value_ref(name)?;
        T::from_value(value).map_err(|why| Error::TypeError(format!("column '{name}' {why}")))
    }

    /// The value of column `name`.
    pub fn get_value(&self, name: &str) -> Result<ScalarValue> {
        self.value_ref(name).cloned()
    }

    /// The value at position `index`.
    pub fn value(&self, index: usize) -> Option<&ScalarValue> {
        self.values.get(index)
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    fn value_ref(&self, name: &str) -> Result<&ScalarValue> {
        match self.position(name) {
            Some(i) => Ok(&self.values[i]),
            None => Err(Error::FieldError(format!(
                "The row has no column '{name}'. Columns are: {}",
                self.columns.join(", ")
            ))),
        }
    }
}

impl fmt::Display for Row {
    /// `{name: value, …}`, like a Django values() dict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match value {
                ScalarValue::Utf8(Some(s)) => write!(f, "{name}: '{s}'")?,
                ScalarValue::Null => write!(f, "{name}: None")?,
                v if v.is_null() => write!(f, "{name}: None")?,
                v => write!(f, "{name}: {v}")?,
            }
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn rows() -> Rows {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = |ids: Vec<i64>, names: Vec<Option<&str>>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(names)),
                ],
            )
            .unwrap()
        };
        Rows::new(
            Arc::clone(&schema),
            vec![
                batch(vec![1, 2], vec![Some("Ann"), None]),
                batch(vec![3], vec![Some("Bob")]),
            ],
        )
    }

    #[test]
    fn rows_iterate_across_batches_with_typed_access() {
        let rows = rows();
        assert_eq!(rows.len(), 3);
        let ids: Vec<i64> = rows.iter().map(|r| r.get("id").unwrap()).collect();
        assert_eq!(ids, [1, 2, 3]);
        let third = rows.get(2).unwrap();
        assert_eq!(third.get::<String>("name").unwrap(), "Bob");
        assert_eq!(
            rows.column::<Option<String>>("name").unwrap(),
            [Some("Ann".to_string()), None, Some("Bob".to_string())]
        );
        assert!(rows.get(3).is_none());
    }

    #[test]
    fn unknown_columns_and_nulls_are_errors() {
        let second = rows().get(1).unwrap();
        let err = second.get::<String>("name").unwrap_err();
        assert!(err.to_string().contains("NULL"), "{err}");
        let err = second.get::<i64>("nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "The row has no column 'nope'. Columns are: id, name"
        );
        assert_eq!(second.to_string(), "{id: 2, name: None}");
    }

    #[test]
    fn displays_as_a_table_even_when_empty() {
        let text = rows().to_string();
        assert!(text.contains("| id | name |"), "{text}");
        assert!(text.contains("| 3  | Bob  |"), "{text}");
        let empty = Rows::new(Arc::clone(rows().schema()), vec![]);
        assert!(empty.to_string().contains("| id | name |"));
        assert!(empty.is_empty());
    }
}
