//! Django's model field classes as Rust builders: `CharField::new(100).null()`.
//!
//! Each Django field class is a unit struct whose `new` returns a [`FieldSpec`]; the options
//! (`null`, `default`, `db_index`, `unique`, `primary_key`, …) are builder methods. A
//! [`FieldType`] knows the Arrow type its column is stored as.

use arrow::datatypes::{DataType, TimeUnit};
use quiver_engine::ScalarValue;

/// What a related row's deletion does (`on_delete=`). Enforced once deletes exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnDelete {
    Cascade,
    Protect,
    Restrict,
    SetNull,
    SetDefault,
    DoNothing,
}

/// A forward relation's target and options.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationSpec {
    /// Target model name (`"Customer"`, or `"self"`).
    pub to: String,
    pub on_delete: OnDelete,
    pub related_name: Option<String>,
    pub related_query_name: Option<String>,
    /// Target field (`to_field=`); `None` means the target's primary key.
    pub to_field: Option<String>,
}

/// A many-to-many relation's target and options. The field has no column: its rows live in
/// a link table, automatic (`<model>_<field>` with one ForeignKey to each side) or the
/// `through=` model the user registered.
#[derive(Debug, Clone, PartialEq)]
pub struct ManyToManySpec {
    /// Target model name (`"Author"`, or `"self"`).
    pub to: String,
    /// `through="Membership"`: a registered model with a ForeignKey to each side.
    pub through: Option<String>,
    /// `through_fields=("source_fk", "target_fk")` on the through model.
    pub through_fields: Option<(String, String)>,
    /// `symmetrical=`; `None` is Django's default (true for a relation to "self").
    pub symmetrical: Option<bool>,
    pub related_name: Option<String>,
    pub related_query_name: Option<String>,
}

/// The kind of a model field, with its type parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    AutoField,
    BigAutoField,
    SmallAutoField,
    IntegerField,
    BigIntegerField,
    SmallIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    PositiveBigIntegerField,
    FloatField,
    DecimalField { max_digits: u8, decimal_places: i8 },
    BooleanField,
    CharField { max_length: Option<u32> },
    TextField,
    DateField,
    DateTimeField,
    TimeField,
    DurationField,
    ForeignKey(RelationSpec),
    OneToOneField(RelationSpec),
    ManyToManyField(ManyToManySpec),
}

impl FieldType {
    /// Django's class name (`"CharField"`).
    pub fn class_name(&self) -> &'static str {
        match self {
            FieldType::AutoField => "AutoField",
            FieldType::BigAutoField => "BigAutoField",
            FieldType::SmallAutoField => "SmallAutoField",
            FieldType::IntegerField => "IntegerField",
            FieldType::BigIntegerField => "BigIntegerField",
            FieldType::SmallIntegerField => "SmallIntegerField",
            FieldType::PositiveIntegerField => "PositiveIntegerField",
            FieldType::PositiveSmallIntegerField => "PositiveSmallIntegerField",
            FieldType::PositiveBigIntegerField => "PositiveBigIntegerField",
            FieldType::FloatField => "FloatField",
            FieldType::DecimalField { .. } => "DecimalField",
            FieldType::BooleanField => "BooleanField",
            FieldType::CharField { .. } => "CharField",
            FieldType::TextField => "TextField",
            FieldType::DateField => "DateField",
            FieldType::DateTimeField => "DateTimeField",
            FieldType::TimeField => "TimeField",
            FieldType::DurationField => "DurationField",
            FieldType::ForeignKey(_) => "ForeignKey",
            FieldType::OneToOneField(_) => "OneToOneField",
            FieldType::ManyToManyField(_) => "ManyToManyField",
        }
    }

    /// The Arrow type of the stored column. A relation stores its target's key type, which
    /// the model registry fills in (`BigAutoField` → Int64 by default).
    pub fn data_type(&self) -> DataType {
        match self {
            FieldType::AutoField | FieldType::IntegerField | FieldType::PositiveIntegerField => {
                DataType::Int32
            }
            FieldType::BigAutoField
            | FieldType::BigIntegerField
            | FieldType::PositiveBigIntegerField => DataType::Int64,
            FieldType::SmallAutoField
            | FieldType::SmallIntegerField
            | FieldType::PositiveSmallIntegerField => DataType::Int16,
            FieldType::FloatField => DataType::Float64,
            FieldType::DecimalField {
                max_digits,
                decimal_places,
            } => DataType::Decimal128(*max_digits, *decimal_places),
            FieldType::BooleanField => DataType::Boolean,
            FieldType::CharField { .. } | FieldType::TextField => DataType::Utf8,
            FieldType::DateField => DataType::Date32,
            FieldType::DateTimeField => DataType::Timestamp(TimeUnit::Microsecond, None),
            FieldType::TimeField => DataType::Time64(TimeUnit::Microsecond),
            FieldType::DurationField => DataType::Duration(TimeUnit::Microsecond),
            // A many-to-many field stores nothing in its model's table; its link rows hold
            // the target's key.
            FieldType::ForeignKey(_)
            | FieldType::OneToOneField(_)
            | FieldType::ManyToManyField(_) => DataType::Int64,
        }
    }

    /// The field kind that holds values of an Arrow type (the `output_field` Django infers).
    pub fn for_data_type(data_type: &DataType) -> Option<FieldType> {
        Some(match data_type {
            DataType::Int16 => FieldType::SmallIntegerField,
            DataType::Int32 => FieldType::IntegerField,
            DataType::Int64 => FieldType::BigIntegerField,
            DataType::Float64 | DataType::Float32 => FieldType::FloatField,
            DataType::Decimal128(p, s) => FieldType::DecimalField {
                max_digits: *p,
                decimal_places: *s,
            },
            DataType::Boolean => FieldType::BooleanField,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => FieldType::TextField,
            DataType::Dictionary(_, v) => return FieldType::for_data_type(v),
            DataType::Date32 => FieldType::DateField,
            DataType::Timestamp(_, _) => FieldType::DateTimeField,
            DataType::Time64(_) => FieldType::TimeField,
            DataType::Duration(_) => FieldType::DurationField,
            _ => return None,
        })
    }

    /// True for automatically incremented primary keys.
    pub fn is_auto(&self) -> bool {
        matches!(
            self,
            FieldType::AutoField | FieldType::BigAutoField | FieldType::SmallAutoField
        )
    }

    /// The relation, for ForeignKey and OneToOneField.
    pub fn relation(&self) -> Option<&RelationSpec> {
        match self {
            FieldType::ForeignKey(r) | FieldType::OneToOneField(r) => Some(r),
            _ => None,
        }
    }
}

/// A field definition before it is attached to a model under a name.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub field_type: FieldType,
    pub null: bool,
    pub blank: bool,
    pub default: Option<ScalarValue>,
    pub db_index: bool,
    pub unique: bool,
    pub primary_key: bool,
    pub db_column: Option<String>,
    /// Store the strings dictionary-encoded (`CharField`/`TextField` only).
    pub dictionary: bool,
    /// `db_constraint=False` on a relation: no FOREIGN KEY constraint is checked.
    pub db_constraint: bool,
}

impl FieldSpec {
    /// A field of the given kind with Django's default options.
    pub fn new(field_type: FieldType) -> FieldSpec {
        FieldSpec {
            field_type,
            null: false,
            blank: false,
            default: None,
            db_index: false,
            unique: false,
            primary_key: false,
            db_column: None,
            dictionary: false,
            db_constraint: true,
        }
    }

    /// `null=True`.
    pub fn null(mut self) -> Self {
        self.null = true;
        self
    }

    /// `blank=True` (validation only).
    pub fn blank(mut self) -> Self {
        self.blank = true;
        self
    }

    /// `default=value`.
    pub fn default(mut self, value: impl Into<ScalarValue>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// `db_index=True`.
    pub fn db_index(mut self) -> Self {
        self.db_index = true;
        self
    }

    /// `unique=True`.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// `primary_key=True` (implies unique and not null).
    pub fn primary_key(mut self) -> Self {
        self.primary_key = true;
        self.unique = true;
        self.null = false;
        self
    }

    /// `db_column="name"`.
    pub fn db_column(mut self, name: impl Into<String>) -> Self {
        self.db_column = Some(name.into());
        self
    }

    /// Stores a `CharField`/`TextField` dictionary-encoded: each distinct string once, rows
    /// hold small integer keys. For low-cardinality columns (status codes, countries, the
    /// H2O benchmark's `id1`), in the spirit of DuckDB's `ENUM`; scans, comparisons and
    /// grouping work on the keys. Queries see ordinary strings.
    pub fn dictionary(mut self) -> Self {
        self.dictionary = true;
        self
    }

    /// `related_name="…"` on a relation field (ignored on other fields).
    pub fn related_name(mut self, name: impl Into<String>) -> Self {
        match &mut self.field_type {
            FieldType::ForeignKey(r) | FieldType::OneToOneField(r) => {
                r.related_name = Some(name.into())
            }
            FieldType::ManyToManyField(m) => m.related_name = Some(name.into()),
            _ => {}
        }
        self
    }

    /// `related_query_name="…"` on a relation field.
    pub fn related_query_name(mut self, name: impl Into<String>) -> Self {
        match &mut self.field_type {
            FieldType::ForeignKey(r) | FieldType::OneToOneField(r) => {
                r.related_query_name = Some(name.into())
            }
            FieldType::ManyToManyField(m) => m.related_query_name = Some(name.into()),
            _ => {}
        }
        self
    }

    /// `through="Model"` on a `ManyToManyField`: the link rows are that model's rows.
    pub fn through(mut self, model: impl Into<String>) -> Self {
        if let FieldType::ManyToManyField(m) = &mut self.field_type {
            m.through = Some(model.into());
        }
        self
    }

    /// `through_fields=("source", "target")` on a `ManyToManyField` with `through=`.
    pub fn through_fields(mut self, source: impl Into<String>, target: impl Into<String>) -> Self {
        if let FieldType::ManyToManyField(m) = &mut self.field_type {
            m.through_fields = Some((source.into(), target.into()));
        }
        self
    }

    /// `symmetrical=` on a `ManyToManyField` to `"self"`.
    pub fn symmetrical(mut self, symmetrical: bool) -> Self {
        if let FieldType::ManyToManyField(m) = &mut self.field_type {
            m.symmetrical = Some(symmetrical);
        }
        self
    }

    /// `db_constraint=False` on a `ForeignKey`/`OneToOneField`: the column may hold values the
    /// target does not (legacy or analytical data); joins still follow the relation.
    pub fn db_constraint(mut self, db_constraint: bool) -> Self {
        self.db_constraint = db_constraint;
        self
    }

    /// `to_field="…"` on a relation field.
    pub fn to_field(mut self, name: impl Into<String>) -> Self {
        if let FieldType::ForeignKey(r) | FieldType::OneToOneField(r) = &mut self.field_type {
            r.to_field = Some(name.into());
        }
        self
    }
}

macro_rules! simple_field {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("Django's `", stringify!($name), "`.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl $name {
            #[doc = concat!("A `", stringify!($name), "` with default options.")]
            #[allow(clippy::new_ret_no_self)]
            pub fn new() -> FieldSpec {
                FieldSpec::new(FieldType::$name)
            }
        }
    )*};
}

simple_field!(
    AutoField,
    BigAutoField,
    SmallAutoField,
    IntegerField,
    BigIntegerField,
    SmallIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    PositiveBigIntegerField,
    FloatField,
    BooleanField,
    TextField,
    DateField,
    DateTimeField,
    TimeField,
    DurationField,
);

/// Django's `CharField(max_length=…)`.
#[derive(Debug, Clone, Copy)]
pub struct CharField;

impl CharField {
    /// A `CharField` with `max_length`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(max_length: u32) -> FieldSpec {
        FieldSpec::new(FieldType::CharField {
            max_length: Some(max_length),
        })
    }
}

/// Django's `DecimalField(max_digits=…, decimal_places=…)`.
#[derive(Debug, Clone, Copy)]
pub struct DecimalField;

impl DecimalField {
    /// A `DecimalField`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(max_digits: u8, decimal_places: u8) -> FieldSpec {
        FieldSpec::new(FieldType::DecimalField {
            max_digits,
            decimal_places: decimal_places as i8,
        })
    }
}

/// Django's `ForeignKey(to, on_delete=…)`, in two roles: the field builder
/// (`ForeignKey::new("Customer", OnDelete::Cascade)`), and — as `ForeignKey<Customer>` in a
/// `#[derive(Model)]` struct — the typed value of the relation: the stored key, plus the
/// related object when `select_related`/`prefetch_related` loaded it (see
/// [`typed`](crate::typed) for its accessors).
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey<T = ()> {
    pub(crate) id: ScalarValue,
    pub(crate) loaded: Option<Box<T>>,
}

impl ForeignKey {
    /// A many-to-one relation to model `to` (`"self"` for a self-reference).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(to: impl Into<String>, on_delete: OnDelete) -> FieldSpec {
        FieldSpec::new(FieldType::ForeignKey(RelationSpec {
            to: to.into(),
            on_delete,
            related_name: None,
            related_query_name: None,
            to_field: None,
        }))
    }
}

/// Django's `OneToOneField(to, on_delete=…)`.
#[derive(Debug, Clone, Copy)]
pub struct OneToOneField;

impl OneToOneField {
    /// A one-to-one relation to model `to` (unique on this side).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(to: impl Into<String>, on_delete: OnDelete) -> FieldSpec {
        let mut spec = FieldSpec::new(FieldType::OneToOneField(RelationSpec {
            to: to.into(),
            on_delete,
            related_name: None,
            related_query_name: None,
            to_field: None,
        }));
        spec.unique = true;
        spec
    }
}

/// Django's `ManyToManyField(to)`.
#[derive(Debug, Clone, Copy)]
pub struct ManyToManyField;

impl ManyToManyField {
    /// A many-to-many relation to model `to` (`"self"` for a self-reference, symmetric by
    /// default). Options: `.through(..)`, `.related_name(..)`, `.symmetrical(..)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(to: impl Into<String>) -> FieldSpec {
        FieldSpec::new(FieldType::ManyToManyField(ManyToManySpec {
            to: to.into(),
            through: None,
            through_fields: None,
            symmetrical: None,
            related_name: None,
            related_query_name: None,
        }))
    }
}
