//! Bulk loading from files: `Model.objects.load_csv(path)`, `load_json(path)`,
//! `load_parquet(path)` (Quiver's extensions) and Django's `loaddata` fixture format.
//!
//! Every loader ends in one of the two write paths the database already has, so the same
//! rules apply as to `create()`: columns are matched to fields by attname (or name, or
//! `db_column`), values are cast to the field's type, automatic keys are assigned and
//! defaults filled in, and a file loads completely or not at all. CSV and Parquet go
//! through [`Database::load_batches`] (Arrow batches, typed by the model's schema); JSON and
//! fixtures are read as rows and go through `bulk_create`, converting JSON's strings into
//! dates, times and decimals by the field's type, as Django's deserializer does.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{Field as ArrowField, Schema};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use quiver_engine::ScalarValue;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::expressions::Decimal;
use crate::model::{FieldType, Model};
use crate::results::{date_value, datetime_value, time_value};

/// Rows per Arrow batch read from CSV.
const CSV_BATCH_ROWS: usize = 64 * 1024;

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::ValueError(format!("cannot open {}: {e}", path.display())))
}

fn io_error(path: &str, e: impl std::fmt::Display) -> Error {
    Error::ValueError(format!("{path}: {e}"))
}

impl Database {
    /// Appends the rows of a CSV file with a header line naming model fields (by attname,
    /// name or column). Returns the number of rows loaded.
    pub fn load_csv(&self, model: &str, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        self.load_csv_from(model, open(path)?, &path.display().to_string())
    }

    /// [`load_csv`](Self::load_csv) from any reader (`source` names it in errors).
    pub fn load_csv_from(&self, model: &str, reader: impl Read, source: &str) -> Result<usize> {
        let model = self.model(model)?;
        let mut reader = BufReader::new(reader);
        let mut header = String::new();
        std::io::BufRead::read_line(&mut reader, &mut header).map_err(|e| io_error(source, e))?;
        let names: Vec<String> = header
            .trim_end_matches(['\r', '\n'])
            .split(',')
            .map(|n| n.trim().trim_matches('"').to_string())
            .collect();
        let schema = Arc::new(Schema::new(
            names
                .iter()
                .map(|name| {
                    let field = column_field(&model, name, source)?;
                    Ok(ArrowField::new(name, field.data_type().clone(), true))
                })
                .collect::<Result<Vec<_>>>()?,
        ));
        let csv = arrow::csv::ReaderBuilder::new(schema)
            .with_header(false)
            .with_batch_size(CSV_BATCH_ROWS)
            .build(reader)
            .map_err(|e| io_error(source, e))?;
        let batches = csv
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| io_error(source, e))?;
        self.load_batches(model.name(), batches)
    }

    /// Appends the rows of a Parquet file whose columns are model attnames (the runner's
    /// `load_parquet` contract). Returns the number of rows loaded.
    pub fn load_parquet(&self, model: &str, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let model = self.model(model)?;
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open(path)?)
                .map_err(|e| io_error(&source, e))?;
        for field in builder.schema().fields() {
            column_field(&model, field.name(), &source)?;
        }
        let reader = builder.build().map_err(|e| io_error(&source, e))?;
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| io_error(&source, e))?;
        self.load_batches(model.name(), batches)
    }

    /// Appends rows from JSON: an array of objects, or one object per line. Keys are field
    /// names or attnames. Returns the number of rows loaded.
    pub fn load_json(&self, model: &str, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let mut text = String::new();
        open(path)?
            .read_to_string(&mut text)
            .map_err(|e| io_error(&path.display().to_string(), e))?;
        self.load_json_text(model, &text, &path.display().to_string())
    }

    /// [`load_json`](Self::load_json) from text.
    pub fn load_json_text(&self, model: &str, text: &str, source: &str) -> Result<usize> {
        let model = self.model(model)?;
        let objects: Vec<serde_json::Value> = if text.trim_start().starts_with('[') {
            serde_json::from_str(text).map_err(|e| io_error(source, e))?
        } else {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| io_error(source, e))?
        };
        let mut rows = Vec::with_capacity(objects.len());
        for object in &objects {
            let serde_json::Value::Object(map) = object else {
                return Err(io_error(source, "expected a JSON object per row"));
            };
            let mut row = Vec::with_capacity(map.len());
            for (name, value) in map {
                let field = column_field(&model, name, source)?;
                row.push((name.clone(), json_scalar(value, field.field_type(), name)?));
            }
            rows.push(row);
        }
        self.objects(model.name()).bulk_create(rows)
    }

    /// Django's `loaddata`: a JSON fixture `[{"model": "app.customer", "pk": 1, "fields":
    /// {...}}, ...]`. Relations are given by the related primary key, as Django serializes
    /// them. Returns the number of objects loaded.
    pub fn load_fixture(&self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let mut text = String::new();
        open(path)?
            .read_to_string(&mut text)
            .map_err(|e| io_error(&source, e))?;
        self.load_fixture_text(&text, &source)
    }

    /// [`load_fixture`](Self::load_fixture) from text.
    pub fn load_fixture_text(&self, text: &str, source: &str) -> Result<usize> {
        let objects: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| io_error(source, e))?;
        let mut loaded = 0;
        // Consecutive objects of one model are inserted together, in file order.
        let mut batch: Vec<Vec<(String, ScalarValue)>> = vec![];
        let mut batch_model: Option<Arc<Model>> = None;
        for object in &objects {
            let label = object
                .get("model")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| io_error(source, "a fixture object needs a \"model\" label"))?;
            let name = label.rsplit('.').next().unwrap_or(label);
            let model = self
                .model(name)
                .map_err(|_| Error::LookupError(format!("Invalid model identifier: '{label}'")))?;
            if batch_model
                .as_ref()
                .is_some_and(|m| m.name() != model.name())
            {
                if let Some(m) = batch_model.take() {
                    loaded += self
                        .objects(m.name())
                        .bulk_create(std::mem::take(&mut batch))?;
                }
            }
            let mut row = vec![];
            if let Some(pk) = object.get("pk").filter(|v| !v.is_null()) {
                let field = model.pk_field()?;
                row.push((
                    field.attname().to_string(),
                    json_scalar(pk, field.field_type(), "pk")?,
                ));
            }
            if let Some(serde_json::Value::Object(fields)) = object.get("fields") {
                for (field_name, value) in fields {
                    let field = column_field(&model, field_name, source)?;
                    row.push((
                        field.attname().to_string(),
                        json_scalar(value, field.field_type(), field_name)?,
                    ));
                }
            }
            batch.push(row);
            batch_model = Some(model);
        }
        if let Some(m) = batch_model {
            loaded += self.objects(m.name()).bulk_create(batch)?;
        }
        Ok(loaded)
    }
}

/// The model field a file column names, or `FieldError`.
fn column_field<'m>(model: &'m Model, name: &str, source: &str) -> Result<&'m crate::model::Field> {
    model
        .get_field(name)
        .or_else(|| model.fields().iter().find(|f| f.column() == name))
        .ok_or_else(|| {
            let choices: Vec<&str> = model.fields().iter().map(|f| f.attname()).collect();
            Error::FieldError(format!(
                "{source}: column '{name}' is not a field of {}. Choices are: {}",
                model.name(),
                choices.join(", ")
            ))
        })
}

/// A JSON value as the scalar a field of `field_type` stores (strings parsed as Django's
/// deserializer parses them).
fn json_scalar(
    value: &serde_json::Value,
    field_type: &FieldType,
    name: &str,
) -> Result<ScalarValue> {
    use serde_json::Value as J;
    let invalid = |what: &str| {
        Error::ValidationError(format!(
            "“{value}” value has an invalid {what} for field '{name}'."
        ))
    };
    Ok(match value {
        J::Null => ScalarValue::Null,
        J::Bool(b) => ScalarValue::Boolean(Some(*b)),
        J::Number(n) => match field_type {
            FieldType::DecimalField { .. } => Decimal::parse(&n.to_string())?.to_scalar(),
            FieldType::FloatField => ScalarValue::Float64(n.as_f64()),
            _ => match n.as_i64() {
                Some(i) => ScalarValue::Int64(Some(i)),
                None => ScalarValue::Float64(n.as_f64()),
            },
        },
        J::String(s) => match field_type {
            FieldType::DateField => date_value(
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| invalid("date format"))?,
            ),
            FieldType::DateTimeField => {
                datetime_value(parse_datetime(s).ok_or_else(|| invalid("format"))?)
            }
            FieldType::TimeField => time_value(
                NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
                    .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
                    .map_err(|_| invalid("format"))?,
            ),
            FieldType::DecimalField { .. } => Decimal::parse(s)?.to_scalar(),
            FieldType::FloatField => {
                ScalarValue::Float64(Some(s.trim().parse().map_err(|_| invalid("number"))?))
            }
            FieldType::BooleanField => {
                ScalarValue::Boolean(Some(matches!(s.as_str(), "true" | "True" | "1" | "t")))
            }
            t if t.data_type().is_integer() => {
                ScalarValue::Int64(Some(s.trim().parse().map_err(|_| invalid("number"))?))
            }
            _ => ScalarValue::Utf8(Some(s.clone())),
        },
        J::Array(_) | J::Object(_) => {
            return Err(Error::ValidationError(format!(
                "field '{name}' cannot hold the JSON value {value}"
            )))
        }
    })
}

/// ISO 8601 with `T` or a space, optional fraction, optional `Z`.
fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim_end_matches('Z');
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
    })
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    fn shop() -> Database {
        let db = Database::new();
        db.register(
            Model::new("Customer")
                .field("name", CharField::new(20))
                .field("signup", DateField::new().null()),
        )
        .unwrap();
        db.register(
            Model::new("Order")
                .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
                .field("amount", DecimalField::new(8, 2))
                .field("paid", BooleanField::new().default(false)),
        )
        .unwrap();
        db
    }

    #[test]
    fn fixtures_load_with_keys_relations_and_typed_strings() {
        let db = shop();
        let fixture = r#"[
            {"model": "app.customer", "pk": 5, "fields": {"name": "Ann", "signup": "2024-01-05"}},
            {"model": "app.order", "pk": 1, "fields": {"customer": 5, "amount": "12.50"}},
            {"model": "app.order", "pk": 2, "fields": {"customer": 5, "amount": 3, "paid": true}}
        ]"#;
        assert_eq!(db.load_fixture_text(fixture, "f.json").unwrap(), 3);
        let totals = db.objects("Order").aggregate([Sum("amount")]).unwrap();
        assert_eq!(
            totals.get_value("amount__sum").unwrap().to_string(),
            "15.50"
        );
        let ann = db.objects("Customer").get(q!(pk = 5)).unwrap();
        assert_eq!(
            ann.get::<NaiveDate>("signup").unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 5).unwrap()
        );
        // The next automatic key continues after the fixture's.
        assert_eq!(
            db.objects("Customer")
                .create([("name", "Bob".into())])
                .unwrap()
                .pk(),
            ScalarValue::Int64(Some(6))
        );
        let err = db
            .load_fixture_text(r#"[{"model": "app.nope", "fields": {}}]"#, "f.json")
            .unwrap_err();
        assert_eq!(err.to_string(), "Invalid model identifier: 'app.nope'");
    }

    #[test]
    fn csv_and_json_rows_are_typed_by_the_model() {
        let db = shop();
        let csv = "name,signup\nAnn,2024-01-05\nBob,\n";
        assert_eq!(
            db.load_csv_from("Customer", csv.as_bytes(), "c.csv")
                .unwrap(),
            2
        );
        assert_eq!(
            db.objects("Customer")
                .filter(q!(signup__isnull = true))
                .count()
                .unwrap(),
            1
        );
        let json = "{\"customer_id\": 1, \"amount\": \"2.25\"}\n{\"customer\": 2, \"amount\": 1}\n";
        assert_eq!(db.load_json_text("Order", json, "o.json").unwrap(), 2);
        let row = db.objects("Order").aggregate([Sum("amount")]).unwrap();
        assert_eq!(row.get_value("amount__sum").unwrap().to_string(), "3.25");
        let err = db
            .load_csv_from("Customer", "nme\nx\n".as_bytes(), "c.csv")
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "c.csv: column 'nme' is not a field of Customer. Choices are: id, name"
            ),
            "{err}"
        );
    }
}
