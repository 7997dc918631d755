//! Typed models: the traits `#[derive(Model)]` implements, and the QuerySet methods that use
//! them.
//!
//! A Rust struct describes its model ([`ModelDef`]), is read from a result row ([`FromRow`])
//! and turned into `(attname, value)` pairs for inserts ([`IntoRow`]). Queries stay
//! string-based (`filter(q!(...))`); only the ends — what goes in and what comes out — are
//! typed, in the spirit of SeaORM rather than Diesel's fully type-level queries.

use quiver_engine::ScalarValue;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::{ForeignKey, Model};
use crate::queryset::{QuerySet, SelectRelated};
use crate::results::{Instance, Related, Row};

/// A Rust type that describes a model (`#[derive(Model)]` implements it).
pub trait ModelDef {
    /// The model definition, ready for [`Database::register`](crate::Database::register).
    fn model() -> Model;
}

/// A Rust type built from a result row.
pub trait FromRow: Sized {
    /// Reads the fields from `row` by column name.
    fn from_row(row: &Row) -> Result<Self>;

    /// Reads the fields from a model instance, with the related objects eager loading put
    /// on it (`ForeignKey<T>` values, prefetched `Vec<T>` collections). By default, the
    /// instance's row.
    fn from_instance(instance: &Instance) -> Result<Self> {
        Self::from_row(instance.row())
    }
}

impl<T> ForeignKey<T> {
    /// A relation value holding just the key (`ScalarValue::Null` for no related object).
    pub fn from_id(id: impl Into<ScalarValue>) -> ForeignKey<T> {
        ForeignKey {
            id: id.into(),
            loaded: None,
        }
    }

    /// A relation value with the related object eager loading fetched.
    pub fn with_loaded(id: impl Into<ScalarValue>, loaded: Option<T>) -> ForeignKey<T> {
        ForeignKey {
            id: id.into(),
            loaded: loaded.map(Box::new),
        }
    }

    /// The stored key (Django's `order.customer_id`).
    pub fn id(&self) -> &ScalarValue {
        &self.id
    }

    /// The related object if `select_related`/`prefetch_related` loaded it (no query).
    pub fn loaded(&self) -> Option<&T> {
        self.loaded.as_deref()
    }

    /// Reads the relation of `instance` named `name`: its key, and the object eager loading
    /// cached on the instance, converted with `T::from_instance`.
    pub fn from_instance_field(instance: &Instance, name: &str) -> Result<ForeignKey<T>>
    where
        T: FromRow,
    {
        let loaded = match instance.cached_related(name) {
            Some(Related::One(Some(object))) => Some(T::from_instance(object)?),
            _ => None,
        };
        Ok(ForeignKey::with_loaded(instance.get_value(name)?, loaded))
    }
}

impl<T: ModelDef + FromRow + Clone> ForeignKey<T> {
    /// Django's `order.customer`: the loaded object, or one query for it (none for a NULL
    /// key, which is `None`). The key is the target's primary key; a key with no row behind
    /// it is the target's `DoesNotExist`, as Django's descriptor raises.
    pub fn fetch(&self, db: &Database) -> Result<Option<T>> {
        if let Some(loaded) = &self.loaded {
            return Ok(Some(loaded.as_ref().clone()));
        }
        if self.id.is_null() {
            return Ok(None);
        }
        let model = T::model();
        match db
            .objects(model.name())
            .filter(Q::new("pk", self.id.clone()))
            .clear_ordering()
            .fetch_as::<T>()?
            .into_iter()
            .next()
        {
            Some(found) => Ok(Some(found)),
            None => Err(Error::DoesNotExist(format!(
                "{} matching query does not exist.",
                model.name()
            ))),
        }
    }
}

impl<T> From<&ForeignKey<T>> for ScalarValue {
    /// A relation stands for its key.
    fn from(value: &ForeignKey<T>) -> ScalarValue {
        value.id.clone()
    }
}

impl<T> From<ForeignKey<T>> for ScalarValue {
    fn from(value: ForeignKey<T>) -> ScalarValue {
        value.id
    }
}

/// A prefetched collection for a typed struct: the instances `prefetch_related` stored
/// under `name`, converted; empty when nothing was prefetched.
pub fn prefetched_collection<T: FromRow>(instance: &Instance, name: &str) -> Result<Vec<T>> {
    instance
        .prefetched(name)
        .unwrap_or_default()
        .iter()
        .map(T::from_instance)
        .collect()
}

/// A single related object for a typed struct (the reverse side of a OneToOneField, as
/// `#[quiver(related = "profile")] profile: Option<Profile>`): what `select_related` or
/// `prefetch_related` stored under `name`, converted; `None` when there is no related row
/// or nothing was loaded.
pub fn prefetched_object<T: FromRow>(instance: &Instance, name: &str) -> Result<Option<T>> {
    match instance.cached_related(name) {
        Some(Related::One(Some(object))) => Ok(Some(T::from_instance(object)?)),
        _ => Ok(None),
    }
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
    /// Evaluates the QuerySet and reads every row as a `T` (with the related objects of
    /// `select_related`/`prefetch_related` when the QuerySet asks for them).
    pub fn fetch_as<T: FromRow>(&self) -> Result<Vec<T>> {
        if self.query.select_related == SelectRelated::None && self.query.prefetch.is_empty() {
            return self.fetch()?.iter().map(|row| T::from_row(&row)).collect();
        }
        self.fetch_instances()?
            .iter()
            .map(T::from_instance)
            .collect()
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
    use crate::model::{CharField, ForeignKey, IntegerField};
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

    /// Typed relations: `ForeignKey<Customer>` with a lazy accessor and the value
    /// `select_related` loads; a prefetched `Vec<Order>` collection.
    #[derive(Debug, Clone, PartialEq, crate::Model)]
    #[quiver(name = "Client", ordering = "name")]
    struct Client {
        id: Option<i64>,
        #[quiver(max_length = 20)]
        name: String,
        #[quiver(related = "orders")]
        orders: Vec<Purchase>,
    }

    #[derive(Debug, Clone, PartialEq, crate::Model)]
    #[quiver(name = "Purchase", ordering = "amount")]
    struct Purchase {
        id: Option<i64>,
        #[quiver(related_name = "orders")]
        client: ForeignKey<Client>,
        amount: i32,
        #[quiver(null, on_delete = "set_null")]
        referrer: ForeignKey<Client>,
    }

    #[test]
    fn typed_foreign_keys_load_lazily_or_eagerly() {
        let db = Database::new();
        db.register_model::<Client>().unwrap();
        db.register_model::<Purchase>().unwrap();
        let clients = [("Ann", 1), ("Bob", 2)].map(|(name, _)| Client {
            id: None,
            name: name.to_string(),
            orders: vec![],
        });
        db.objects_of::<Client>()
            .bulk_create_typed(clients)
            .unwrap();
        let purchases = [(1i64, 10, None), (1, 20, Some(2i64)), (2, 5, None)].map(
            |(client, amount, referrer)| Purchase {
                id: None,
                client: ForeignKey::from_id(client),
                amount,
                referrer: ForeignKey::from_id(ScalarValue::Int64(referrer)),
            },
        );
        db.objects_of::<Purchase>()
            .bulk_create_typed(purchases)
            .unwrap();

        let before = db.query_count();
        let lazy = db.objects_of::<Purchase>().fetch_as::<Purchase>().unwrap();
        assert!(lazy[0].client.loaded().is_none());
        let bob = lazy[0].client.fetch(&db).unwrap().unwrap();
        assert_eq!(bob.name, "Bob");
        assert_eq!(
            lazy[0].referrer.fetch(&db).unwrap(),
            None,
            "a NULL key runs no query"
        );
        assert_eq!(db.query_count() - before, 2);

        let before = db.query_count();
        let eager = db
            .objects_of::<Purchase>()
            .select_related([Purchase::CLIENT, Purchase::REFERRER])
            .fetch_as::<Purchase>()
            .unwrap();
        let names: Vec<&str> = eager
            .iter()
            .map(|p| p.client.loaded().map_or("", |c| c.name.as_str()))
            .collect();
        assert_eq!(names, ["Bob", "Ann", "Ann"]);
        assert_eq!(
            eager[2].referrer.loaded().map(|c| c.name.as_str()),
            Some("Bob")
        );
        assert_eq!(eager[2].client.fetch(&db).unwrap().unwrap().name, "Ann");
        assert_eq!(db.query_count() - before, 1);

        let before = db.query_count();
        let with_orders = db
            .objects_of::<Client>()
            .prefetch_related(["orders"])
            .fetch_as::<Client>()
            .unwrap();
        let amounts: Vec<Vec<i32>> = with_orders
            .iter()
            .map(|c| c.orders.iter().map(|o| o.amount).collect())
            .collect();
        assert_eq!(amounts, [vec![10, 20], vec![5]]);
        assert_eq!(db.query_count() - before, 2);
    }

    /// A typed OneToOneField (`#[quiver(one_to_one)]`) and its reverse side as an
    /// `Option<T>` that `prefetch_related` fills.
    #[derive(Debug, Clone, PartialEq, crate::Model)]
    #[quiver(name = "Member", ordering = "name")]
    struct Member {
        id: Option<i64>,
        #[quiver(max_length = 20)]
        name: String,
        #[quiver(related = "badge")]
        badge: Option<Badge>,
    }

    #[derive(Debug, Clone, PartialEq, crate::Model)]
    #[quiver(name = "Badge")]
    struct Badge {
        id: Option<i64>,
        #[quiver(one_to_one, related_name = "badge")]
        member: ForeignKey<Member>,
        #[quiver(max_length = 10)]
        code: String,
    }

    #[test]
    fn typed_one_to_one_fields_and_missing_related_objects() {
        let db = Database::new();
        db.register_model::<Member>().unwrap();
        db.register_model::<Badge>().unwrap();
        let field = db.model("Badge").unwrap();
        assert!(matches!(
            field.get_field("member").map(|f| f.field_type().clone()),
            Some(crate::model::FieldType::OneToOneField(_))
        ));
        let members = ["Ann", "Bob"].map(|name| Member {
            id: None,
            name: name.to_string(),
            badge: None,
        });
        db.objects_of::<Member>()
            .bulk_create_typed(members)
            .unwrap();
        let badge = Badge {
            id: None,
            member: ForeignKey::from_id(1i64),
            code: "gold".into(),
        };
        db.objects_of::<Badge>().bulk_create_typed([badge]).unwrap();

        let before = db.query_count();
        let loaded = db
            .objects_of::<Member>()
            .prefetch_related(["badge"])
            .fetch_as::<Member>()
            .unwrap();
        assert_eq!(db.query_count() - before, 2);
        assert_eq!(loaded[0].name, "Ann");
        assert_eq!(
            loaded[0].badge.as_ref().map(|b| b.code.as_str()),
            Some("gold")
        );
        assert_eq!(loaded[1].badge, None);

        // Django's descriptors: no reverse row is RelatedObjectDoesNotExist, a key with no
        // row the target's DoesNotExist.
        let bob = db.objects("Member").get(crate::q!(name = "Bob")).unwrap();
        assert!(matches!(
            bob.related_object("badge"),
            Err(Error::RelatedObjectDoesNotExist(m)) if m == "Member has no badge."
        ));
        assert!(!bob.has_related_object("badge").unwrap());
        let dangling = ForeignKey::<Member>::from_id(99i64).fetch(&db);
        assert!(matches!(
            dangling,
            Err(Error::DoesNotExist(m)) if m == "Member matching query does not exist."
        ));
    }
}
