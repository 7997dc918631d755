//! Typed models: the traits `#[derive(Model)]` implements, and the QuerySet methods that use
//! them.
//!
//! A Rust struct describes its model ([`ModelDef`]), is read from a result row ([`FromRow`])
//! and turned into `(attname, value)` pairs for inserts ([`IntoRow`]). Queries stay
//! string-based (`filter(q!(...))`); only the ends — what goes in and what comes out — are
//! typed, in the spirit of SeaORM rather than Diesel's fully type-level queries.

use quiver_engine::ScalarValue;

use crate::error::Result;
use crate::model::Model;
use crate::queryset::QuerySet;
use crate::results::Row;

/// A Rust type that describes a model (`#[derive(Model)]` implements it).
pub trait ModelDef {
    /// The model definition, ready for [`Database::register`](crate::Database::register).
    fn model() -> Model;
}

/// A Rust type built from a result row.
pub trait FromRow: Sized {
    /// Reads the fields from `row` by column name.
    fn from_row(row: &Row) -> Result<Self>;
}

/// A Rust value that becomes one inserted row.
pub trait IntoRow {
    /// `(attname or field name, value)` pairs; omitted fields get their defaults.
    fn into_row(self) -> Vec<(&'static str, ScalarValue)>;
}

impl FromRow for Row {
    fn from_row(row: &Row) -> Result<Self> {
        Ok(row.clone())
    }
}

impl QuerySet {
    /// Evaluates the QuerySet and reads every row as a `T`.
    pub fn fetch_as<T: FromRow>(&self) -> Result<Vec<T>> {
        self.fetch()?.iter().map(|row| T::from_row(&row)).collect()
    }

    /// `bulk_create` for typed values. Returns the number of rows inserted.
    pub fn bulk_create_typed<T: IntoRow>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<usize> {
        self.bulk_create(items.into_iter().map(IntoRow::into_row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CharField, IntegerField};
    use crate::Database;

    /// What `#[derive(Model)]` will generate for
    /// `struct Person { id: Option<i64>, name: String, age: Option<i32> }`.
    #[derive(Debug, PartialEq)]
    struct Person {
        id: Option<i64>,
        name: String,
        age: Option<i32>,
    }

    impl ModelDef for Person {
        fn model() -> Model {
            Model::new("Person")
                .field("name", CharField::new(30))
                .field("age", IntegerField::new().null())
                .ordering(["name"])
        }
    }

    impl FromRow for Person {
        fn from_row(row: &Row) -> Result<Self> {
            Ok(Person {
                id: row.get("id")?,
                name: row.get("name")?,
                age: row.get("age")?,
            })
        }
    }

    impl IntoRow for Person {
        fn into_row(self) -> Vec<(&'static str, ScalarValue)> {
            let mut row = vec![("name", self.name.into()), ("age", self.age.into())];
            if let Some(id) = self.id {
                row.push(("id", id.into()));
            }
            row
        }
    }

    #[test]
    fn typed_models_round_trip_through_a_queryset() {
        let db = Database::new();
        db.register_model::<Person>().unwrap();
        let people = [("Zoe", Some(30)), ("Al", None)].map(|(name, age)| Person {
            id: None,
            name: name.to_string(),
            age,
        });
        assert_eq!(
            db.objects_of::<Person>().bulk_create_typed(people).unwrap(),
            2
        );
        let rows = db.objects_of::<Person>().fetch_as::<Person>().unwrap();
        assert_eq!(
            rows,
            [
                Person {
                    id: Some(2),
                    name: "Al".into(),
                    age: None
                },
                Person {
                    id: Some(1),
                    name: "Zoe".into(),
                    age: Some(30)
                },
            ]
        );
    }

    /// The same model through `#[derive(Model)]`: metadata, typed rows, field constants.
    #[derive(Debug, PartialEq, crate::Model)]
    #[quiver(name = "Student", ordering = "-grade, name")]
    struct Student {
        id: Option<i64>,
        #[quiver(max_length = 40)]
        name: String,
        grade: i32,
        gpa: Option<f64>,
        enrolled: chrono::NaiveDate,
    }

    #[test]
    fn derived_models_define_fields_and_round_trip() {
        let model = Student::model();
        assert_eq!(model.name(), "Student");
        assert_eq!(Student::GRADE, "grade");
        let db = Database::new();
        db.register_model::<Student>().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
        let students = [("Bo", 3, Some(3.5)), ("Al", 3, None), ("Cy", 4, Some(2.0))].map(
            |(name, grade, gpa)| Student {
                id: None,
                name: name.to_string(),
                grade,
                gpa,
                enrolled: day,
            },
        );
        db.objects_of::<Student>()
            .bulk_create_typed(students)
            .unwrap();
        let fetched = db
            .objects_of::<Student>()
            .filter(crate::q!(grade = 3))
            .fetch_as::<Student>()
            .unwrap();
        let names: Vec<&str> = fetched.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Al", "Bo"], "Meta.ordering is -grade, name");
        assert_eq!(fetched[0].gpa, None);
        assert_eq!(fetched[1].id, Some(1));
        assert_eq!(fetched[1].enrolled, day);
    }
}
