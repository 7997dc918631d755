//! Model classes: `class Customer(models.Model): …` becomes a registered
//! [`quiver::Model`](struct@quiver::Model).
//!
//! Field assignments evaluate to field definitions (`models.CharField(max_length=10)` →
//! [`FieldSpec`]); a nested `class Meta` gives ordering, `db_table`, indexes (named and partial
//! ones too), `constraints` (`UniqueConstraint`, `CheckConstraint`), `unique_together` and
//! `get_latest_by` (other options, such as `verbose_name`, are accepted and ignored);
//! `def __str__` is kept for display and other methods are callable on instances.
//! Classes are registered together, in dependency order, before the first statement that
//! uses the database, so relations may name models defined later (`"Customer"`).

use std::collections::HashMap;
use std::rc::Rc;

use quiver::expressions::Q;
use quiver::model::{FieldSpec, FieldType, OnDelete, RelationSpec};
use quiver::queryset::{CheckConstraint, IndexSpec, UniqueConstraintSpec};
use quiver::{Database, Model};

use super::ast::{ExprKind, Property, Stmt, StmtKind};
use super::convert::to_scalar;
use super::error::{Location, ScriptError};
use super::interpreter::Interpreter;
use super::values::{FieldDef, FunctionBody, ModelClass, Value};

/// Field classes a model body may use, with the Quiver field kind each maps to.
const FIELD_CLASSES: [&str; 25] = [
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
    "FloatField",
    "DecimalField",
    "BooleanField",
    "CharField",
    "TextField",
    "DateField",
    "DateTimeField",
    "TimeField",
    "DurationField",
    "ForeignKey",
    "OneToOneField",
    "EmailField",
    "SlugField",
    "URLField",
    "ManyToManyField",
    "NullBooleanField",
];

/// True for a Django field class name.
pub fn is_field_class(name: &str) -> bool {
    FIELD_CLASSES.contains(&name)
}

/// A model class defined but not yet registered.
#[derive(Debug)]
pub struct PendingModel {
    pub model: Model,
    pub location: Location,
}

fn option<'a>(kwargs: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn int_option(kwargs: &[(String, Value)], name: &str) -> Result<Option<i64>, ScriptError> {
    match option(kwargs, name) {
        None | Some(Value::None) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(other) => Err(ScriptError::type_error(format!(
            "{name} must be an integer, not {}",
            other.type_name()
        ))),
    }
}

/// `models.CharField(max_length=10, null=True)` and friends; also `models.Index(...)`.
pub fn field_call(
    class: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    if matches!(class, "Index" | "UniqueConstraint" | "CheckConstraint") {
        return Ok(Value::Opaque(Rc::from(class), Rc::new(kwargs)));
    }
    let kind = match class {
        "AutoField" => FieldType::AutoField,
        "BigAutoField" => FieldType::BigAutoField,
        "SmallAutoField" => FieldType::SmallAutoField,
        "IntegerField" => FieldType::IntegerField,
        "BigIntegerField" => FieldType::BigIntegerField,
        "SmallIntegerField" => FieldType::SmallIntegerField,
        "PositiveIntegerField" => FieldType::PositiveIntegerField,
        "PositiveSmallIntegerField" => FieldType::PositiveSmallIntegerField,
        "PositiveBigIntegerField" => FieldType::PositiveBigIntegerField,
        "FloatField" => FieldType::FloatField,
        "BooleanField" | "NullBooleanField" => FieldType::BooleanField,
        "TextField" => FieldType::TextField,
        "DateField" => FieldType::DateField,
        "DateTimeField" => FieldType::DateTimeField,
        "TimeField" => FieldType::TimeField,
        "DurationField" => FieldType::DurationField,
        "CharField" | "SlugField" | "EmailField" | "URLField" => {
            let default = match class {
                "SlugField" => Some(50),
                "EmailField" => Some(254),
                "URLField" => Some(200),
                _ => None,
            };
            let max_length = int_option(&kwargs, "max_length")?
                .or(default)
                .map(|m| m as u32);
            FieldType::CharField { max_length }
        }
        "DecimalField" => {
            let required = |name: &str, check: &str| -> Result<i64, ScriptError> {
                int_option(&kwargs, name)?.ok_or_else(|| {
                    ScriptError::new(
                        "ImproperlyConfigured",
                        format!("DecimalFields must define a '{name}' attribute. ({check})"),
                    )
                })
            };
            let digits = required("max_digits", "fields.E132")?;
            let places = required("decimal_places", "fields.E130")?;
            let too_large = |name: &str| ScriptError::value_error(format!("{name} is too large"));
            FieldType::DecimalField {
                max_digits: u8::try_from(digits).map_err(|_| too_large("max_digits"))?,
                decimal_places: i8::try_from(places).map_err(|_| too_large("decimal_places"))?,
            }
        }
        "ForeignKey" | "OneToOneField" => {
            let missing = |what: &str| {
                ScriptError::type_error(format!(
                    "{class}.__init__() missing 1 required positional argument: '{what}'"
                ))
            };
            let target = args.first().or_else(|| option(&kwargs, "to"));
            let target = target.ok_or_else(|| missing("to"))?;
            let to = match target {
                Value::Str(s) => s.rsplit('.').next().unwrap_or(s).to_string(),
                Value::ModelClass(c) => c.name.clone(),
                other => {
                    return Err(ScriptError::type_error(format!(
                        "{class}({}) is invalid: the first argument must be a model or its name",
                        other.repr()
                    )))
                }
            };
            let on_delete = match args.get(1).or_else(|| option(&kwargs, "on_delete")) {
                Some(Value::Opaque(name, _)) => match &**name {
                    "CASCADE" => OnDelete::Cascade,
                    "PROTECT" => OnDelete::Protect,
                    "RESTRICT" => OnDelete::Restrict,
                    "SET_NULL" => OnDelete::SetNull,
                    "SET_DEFAULT" => OnDelete::SetDefault,
                    _ => OnDelete::DoNothing,
                },
                _ => return Err(missing("on_delete")),
            };
            let text = |name: &str| match option(&kwargs, name) {
                Some(Value::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            let relation = RelationSpec {
                to,
                on_delete,
                related_name: text("related_name"),
                related_query_name: text("related_query_name"),
                to_field: text("to_field"),
            };
            if class == "ForeignKey" {
                FieldType::ForeignKey(relation)
            } else {
                FieldType::OneToOneField(relation)
            }
        }
        "ManyToManyField" => {
            let name_of = |v: &Value| match v {
                Value::Str(s) => Some(s.rsplit('.').next().unwrap_or(s).to_string()),
                Value::ModelClass(c) => Some(c.name.clone()),
                _ => None,
            };
            let to = args
                .first()
                .or_else(|| option(&kwargs, "to"))
                .and_then(name_of)
                .ok_or_else(|| {
                    ScriptError::type_error(
                        "ManyToManyField.__init__() missing 1 required positional argument: 'to'",
                    )
                })?;
            let mut spec = quiver::model::ManyToManyField::new(to);
            if let Some(through) = option(&kwargs, "through").and_then(name_of) {
                spec = spec.through(through);
            }
            if let Some(Value::Tuple(pair)) = option(&kwargs, "through_fields") {
                if let [Value::Str(a), Value::Str(b)] = pair.as_slice() {
                    spec = spec.through_fields(a.to_string(), b.to_string());
                }
            }
            if let Some(symmetrical) = option(&kwargs, "symmetrical") {
                spec = spec.symmetrical(symmetrical.truthy());
            }
            for (option_name, set) in [
                (
                    "related_name",
                    FieldSpec::related_name as fn(FieldSpec, String) -> FieldSpec,
                ),
                ("related_query_name", FieldSpec::related_query_name),
            ] {
                if let Some(Value::Str(v)) = option(&kwargs, option_name) {
                    spec = set(spec, v.to_string());
                }
            }
            return Ok(Value::Field(Rc::new(FieldDef {
                spec,
                choices: None,
                auto_now: false,
                auto_now_on_save: false,
            })));
        }
        other => {
            return Err(ScriptError::new(
                "NameError",
                format!("name '{other}' is not defined"),
            ))
        }
    };
    let mut spec = FieldSpec::new(kind);
    let flag = |name: &str| option(&kwargs, name).is_some_and(Value::truthy);
    if flag("null") {
        spec = spec.null();
    }
    if flag("blank") {
        spec = spec.blank();
    }
    if flag("db_index") {
        spec = spec.db_index();
    }
    if flag("unique") {
        spec = spec.unique();
    }
    if flag("primary_key") {
        spec = spec.primary_key();
    }
    if option(&kwargs, "db_constraint").is_some_and(|v| !v.truthy()) {
        spec = spec.db_constraint(false);
    }
    if let Some(Value::Str(column)) = option(&kwargs, "db_column") {
        spec = spec.db_column(column.to_string());
    }
    match option(&kwargs, "default") {
        None | Some(Value::Function(_) | Value::Builtin(_)) => {}
        Some(value) => spec = spec.default(to_scalar(value)?),
    }
    let choices = match option(&kwargs, "choices") {
        Some(Value::List(items)) => Some(choice_pairs(&items.borrow())),
        Some(Value::Tuple(items)) => Some(choice_pairs(items)),
        _ => None,
    };
    let auto_now = flag("auto_now") || flag("auto_now_add");
    Ok(Value::Field(Rc::new(FieldDef {
        spec,
        choices,
        auto_now,
        auto_now_on_save: flag("auto_now"),
    })))
}

/// `[(value, label), …]`; grouped choices (`("Group", [(v, l), …])`) are flattened.
fn choice_pairs(items: &[Value]) -> Vec<(Value, Value)> {
    let mut out = vec![];
    for item in items {
        if let Value::Tuple(pair) = item {
            match (pair.first(), pair.get(1)) {
                (Some(_), Some(Value::List(group))) => out.extend(choice_pairs(&group.borrow())),
                (Some(_), Some(Value::Tuple(group)))
                    if group.iter().all(|g| matches!(g, Value::Tuple(_))) =>
                {
                    out.extend(choice_pairs(group))
                }
                (Some(v), Some(l)) => out.push((v.clone(), l.clone())),
                _ => {}
            }
        }
    }
    out
}

fn string_list(value: &Value, what: &str) -> Result<Vec<String>, ScriptError> {
    let items = match value {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Str(s) => vec![Value::Str(Rc::clone(s))],
        other => {
            return Err(ScriptError::type_error(format!(
                "Meta.{what} must be a list or tuple, not {}",
                other.type_name()
            )))
        }
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(ScriptError::unsupported(format!(
                "Meta.{what} entries other than field names ({})",
                other.repr()
            ))),
        })
        .collect()
}

/// Builds the model of a class body (fields, Meta, methods) on top of its abstract base
/// models' fields and options. An abstract model gives no model to register.
pub fn define_model(
    interp: &mut Interpreter,
    name: &str,
    bases: &[Rc<ModelClass>],
    body: &[Stmt],
    stmt: &Stmt,
) -> Result<(Option<PendingModel>, Rc<ModelClass>), ScriptError> {
    let mut class = ModelClass {
        name: name.to_string(),
        choices: HashMap::new(),
        auto_now: Vec::new(),
        auto_now_on_save: Vec::new(),
        attributes: HashMap::new(),
        abstract_model: None,
        str_method: None,
        methods: HashMap::new(),
        properties: Vec::new(),
    };
    let mut model = Model::new(name);
    for base in bases {
        // Django copies an abstract base's fields into each subclass, and its Meta when the
        // subclass declares none.
        if let Some(inherited) = &base.abstract_model {
            for field in inherited.fields().iter().chain(inherited.many_to_many()) {
                model = model.field(field.name(), field.spec().clone());
            }
            model = model.ordering(inherited.default_ordering().to_vec());
        }
        class.choices.extend(base.choices.clone());
        class.auto_now.extend(base.auto_now.iter().cloned());
        class
            .auto_now_on_save
            .extend(base.auto_now_on_save.iter().cloned());
        class.attributes.extend(base.attributes.clone());
        class.methods.extend(base.methods.clone());
        class.properties.extend(base.properties.iter().cloned());
        class.str_method = class.str_method.take().or_else(|| base.str_method.clone());
    }
    // The class body is its own scope: constants defined there (`GENRES = [...]`) are
    // visible to the later lines of the body only.
    interp.frames.push(HashMap::new());
    let built = model_body(interp, model, &mut class, body);
    class
        .attributes
        .extend(interp.frames.pop().unwrap_or_default());
    let (model, is_abstract) = built?;
    let location = Location {
        file: interp.file.clone(),
        line: stmt.line,
        col: stmt.col,
    };
    if is_abstract {
        class.abstract_model = Some(model);
        return Ok((None, Rc::new(class)));
    }
    Ok((Some(PendingModel { model, location }), Rc::new(class)))
}

fn model_body(
    interp: &mut Interpreter,
    mut model: Model,
    class: &mut ModelClass,
    body: &[Stmt],
) -> Result<(Model, bool), ScriptError> {
    let mut is_abstract = false;
    for item in body {
        let file = interp.file.clone();
        let located = |e: ScriptError| e.at(&file, item.line, item.col);
        match &item.kind {
            StmtKind::Assign(targets, value) => {
                let value = interp.eval(value).map_err(located)?;
                for target in targets {
                    let ExprKind::Name(field_name) = &target.kind else {
                        // `OPEN, DONE = "o", "d"`: class constants.
                        interp.assign(target, value.clone()).map_err(located)?;
                        continue;
                    };
                    // Class constants (choices lists, …) are kept in the body's scope only.
                    match &value {
                        Value::Field(def) => {
                            model = model.field(field_name.clone(), def.spec.clone());
                            if let Some(choices) = &def.choices {
                                class.choices.insert(field_name.clone(), choices.clone());
                            }
                            if def.auto_now {
                                class.auto_now.push(field_name.clone());
                            }
                            if def.auto_now_on_save {
                                class.auto_now_on_save.push(field_name.clone());
                            }
                        }
                        other => interp.set_name(field_name, other.clone()),
                    }
                }
            }
            StmtKind::Class {
                name: meta,
                body: meta_body,
                ..
            } if meta == "Meta" => {
                (model, is_abstract) = apply_meta(interp, model, meta_body)?;
            }
            StmtKind::Def {
                name: method,
                params,
                body,
                property,
            } => {
                let function = Rc::new(
                    interp
                        .make_function(method, params, FunctionBody::Statements(body.clone()))
                        .map_err(located)?,
                );
                if method == "__str__" {
                    class.str_method = Some(function);
                } else {
                    if *property != Property::No {
                        class.properties.push((method.clone(), *property));
                    }
                    class.methods.insert(method.clone(), function);
                }
            }
            StmtKind::Pass | StmtKind::Import(_) => {}
            StmtKind::Expr(e) if matches!(e.kind, ExprKind::Str(_)) => {}
            _ => {
                return Err(located(ScriptError::unsupported(
                    "this statement in a model class body",
                )))
            }
        }
    }
    Ok((model, is_abstract))
}

/// Applies `class Meta`; also says whether it declares `abstract = True`.
fn apply_meta(
    interp: &mut Interpreter,
    mut model: Model,
    body: &[Stmt],
) -> Result<(Model, bool), ScriptError> {
    let mut is_abstract = false;
    for item in body {
        let file = interp.file.clone();
        let located = |e: ScriptError| e.at(&file, item.line, item.col);
        let StmtKind::Assign(targets, value) = &item.kind else {
            continue;
        };
        let value = interp.eval(value).map_err(located)?;
        for target in targets {
            let ExprKind::Name(option) = &target.kind else {
                continue;
            };
            match option.as_str() {
                "ordering" => {
                    model = model.ordering(string_list(&value, "ordering").map_err(located)?)
                }
                "db_table" => model = model.db_table(value.to_str()),
                "abstract" => is_abstract = value.truthy(),
                "get_latest_by" => {
                    model =
                        model.get_latest_by(string_list(&value, "get_latest_by").map_err(located)?)
                }
                "unique_together" => {
                    let sets = match &value {
                        Value::List(l) => l.borrow().clone(),
                        Value::Tuple(t) => t.to_vec(),
                        _ => vec![],
                    };
                    if sets.iter().all(|s| matches!(s, Value::Str(_))) {
                        model = model.unique_together(
                            string_list(&value, "unique_together").map_err(located)?,
                        );
                    } else {
                        for set in sets {
                            model = model.unique_together(
                                string_list(&set, "unique_together").map_err(located)?,
                            );
                        }
                    }
                }
                "indexes" => {
                    for index in sequence(&value) {
                        model = meta_index(model, &index).map_err(located)?;
                    }
                }
                "constraints" => {
                    for constraint in sequence(&value) {
                        model = meta_constraint(model, &constraint).map_err(located)?;
                    }
                }
                // verbose_name, managed, … are accepted and ignored.
                _ => {}
            }
        }
    }
    Ok((model, is_abstract))
}

/// The items of a list or tuple option; anything else has none.
fn sequence(value: &Value) -> Vec<Value> {
    match value {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        _ => vec![],
    }
}

/// The keyword arguments of a `models.Index(...)` / `models.*Constraint(...)` call.
fn meta_call_options<'a>(
    value: &'a Value,
    expected: &[&str],
    option_name: &str,
) -> Result<(&'a str, &'a [(String, Value)]), ScriptError> {
    match value {
        Value::Opaque(class, options) if expected.contains(&&**class) => Ok((class, options)),
        other => Err(ScriptError::type_error(format!(
            "Meta.{option_name} entries must be {}, not {}",
            expected.join(" or "),
            other.type_name()
        ))),
    }
}

/// `condition=Q(...)` (or Django's older `check=` for a `CheckConstraint`), refused with
/// Django's error when it is not a `Q`.
fn condition_option(
    options: &[(String, Value)],
    names: &[&str],
    class: &str,
) -> Result<Option<Q>, ScriptError> {
    for name in names {
        match option(options, name) {
            None | Some(Value::None) => {}
            Some(Value::Q(q)) => return Ok(Some((**q).clone())),
            Some(_) if class == "CheckConstraint" => return Err(check_condition_error()),
            Some(_) => {
                return Err(ScriptError::value_error(format!(
                    "{class}.condition must be a Q instance."
                )))
            }
        }
    }
    Ok(None)
}

fn check_condition_error() -> ScriptError {
    ScriptError::type_error("CheckConstraint.condition must be a Q instance or boolean expression.")
}

/// The `name=` of an index or constraint.
fn name_option(options: &[(String, Value)], class: &str) -> Result<Option<String>, ScriptError> {
    match option(options, "name") {
        None | Some(Value::None) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_string())),
        Some(other) => Err(ScriptError::type_error(format!(
            "{class}.name must be a string, not {}",
            other.type_name()
        ))),
    }
}

/// `models.Index(fields=[...], name=..., condition=Q(...))`: an unnamed one without a
/// condition is a plain `Meta.indexes` entry named as Django names it; a named or partial one
/// goes through [`IndexSpec`]. Django's own checks: a partial index must be named.
fn meta_index(model: Model, index: &Value) -> Result<Model, ScriptError> {
    let (_, options) = meta_call_options(index, &["Index"], "indexes")?;
    let fields = match option(options, "fields") {
        Some(fields) => string_list(fields, "indexes")?,
        None => vec![],
    };
    if fields.is_empty() {
        return Err(ScriptError::value_error(
            "At least one field or expression is required to define an index.",
        ));
    }
    let condition = condition_option(options, &["condition"], "Index")?;
    let name = name_option(options, "Index")?;
    Ok(match (name, condition) {
        (None, None) => model.index(fields),
        (None, Some(_)) => {
            return Err(ScriptError::value_error(
                "An index must be named to use condition.",
            ))
        }
        (Some(name), condition) => {
            let mut spec = IndexSpec::new(fields, name);
            if let Some(condition) = condition {
                spec = spec.condition(condition);
            }
            model.index_spec(spec)
        }
    })
}

/// `models.UniqueConstraint(fields=[...], name=..., condition=Q(...))` and
/// `models.CheckConstraint(condition=Q(...), name=...)` (`check=` before Django 5.1).
fn meta_constraint(model: Model, constraint: &Value) -> Result<Model, ScriptError> {
    let (class, options) = meta_call_options(
        constraint,
        &["UniqueConstraint", "CheckConstraint"],
        "constraints",
    )?;
    let name = name_option(options, class)?;
    if class == "CheckConstraint" {
        let name = name.ok_or_else(|| {
            ScriptError::type_error(
                "CheckConstraint.__init__() missing 1 required keyword-only argument: 'name'",
            )
        })?;
        let condition = condition_option(options, &["condition", "check"], class)?
            .ok_or_else(check_condition_error)?;
        return Ok(model.constraint(CheckConstraint::new(condition, name)));
    }
    let name =
        name.ok_or_else(|| ScriptError::value_error("A unique constraint must be named."))?;
    let fields = match option(options, "fields") {
        Some(fields) => string_list(fields, "constraints")?,
        None => vec![],
    };
    if fields.is_empty() {
        return Err(ScriptError::value_error(
            "At least one field or expression is required to define a unique constraint.",
        ));
    }
    let mut spec = UniqueConstraintSpec::new(fields, name);
    if let Some(condition) = condition_option(options, &["condition"], class)? {
        spec = spec.condition(condition);
    }
    Ok(model.constraint(spec))
}

/// Registers models so that every relation's target comes first.
pub fn register_all(db: &Database, mut pending: Vec<PendingModel>) -> Result<(), ScriptError> {
    let registered: Vec<String> = db
        .registry()
        .models()
        .iter()
        .map(|m| m.name().to_lowercase())
        .collect();
    while !pending.is_empty() {
        let names: Vec<String> = pending
            .iter()
            .map(|p| p.model.name().to_lowercase())
            .collect();
        let ready = pending.iter().position(|p| {
            let own = p.model.name().to_lowercase();
            let waits_for = |target: &str| {
                let target = target.to_lowercase();
                target != "self"
                    && target != own
                    && !registered.contains(&target)
                    && names.contains(&target)
            };
            let forward = p
                .model
                .fields()
                .iter()
                .filter_map(|f| f.relation())
                .map(|r| r.to.clone());
            let many = p
                .model
                .many_to_many()
                .iter()
                .flat_map(|f| match f.field_type() {
                    FieldType::ManyToManyField(m) => vec![m.to.clone()],
                    _ => vec![],
                });
            !forward.chain(many).any(|t| waits_for(&t))
        });
        let next = pending.remove(ready.unwrap_or(0));
        let location = next.location.clone();
        db.register(next.model)
            .map_err(|e| ScriptError::from(e).at(&location.file, location.line, location.col))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn field_classes_map_to_quiver_fields_with_their_options() {
        let Value::Field(spec) = field_call(
            "EmailField",
            vec![],
            kw(&[("null", Value::Bool(true)), ("unique", Value::Bool(true))]),
        )
        .unwrap() else {
            panic!("not a field")
        };
        assert_eq!(
            spec.spec.field_type,
            FieldType::CharField {
                max_length: Some(254)
            }
        );
        assert!(spec.spec.null && spec.spec.unique);
        let Value::Field(spec) = field_call(
            "DecimalField",
            vec![],
            kw(&[
                ("max_digits", Value::Int(6)),
                ("decimal_places", Value::Int(2)),
                ("default", Value::Int(0)),
            ]),
        )
        .unwrap() else {
            panic!("not a field")
        };
        assert_eq!(
            spec.spec.field_type,
            FieldType::DecimalField {
                max_digits: 6,
                decimal_places: 2
            }
        );
        assert!(spec.spec.default.is_some());
        let cascade = Value::Opaque(Rc::from("SET_NULL"), Rc::new(vec![]));
        let Value::Field(spec) = field_call(
            "ForeignKey",
            vec![Value::str("shop.Customer"), cascade],
            kw(&[("related_name", Value::str("orders"))]),
        )
        .unwrap() else {
            panic!("not a field")
        };
        let relation = spec.spec.field_type.relation().unwrap();
        assert_eq!(
            (
                relation.to.as_str(),
                relation.on_delete,
                relation.related_name.as_deref()
            ),
            ("Customer", OnDelete::SetNull, Some("orders"))
        );
        let err = field_call("DecimalField", vec![], vec![]).unwrap_err();
        assert_eq!(err.kind, "ImproperlyConfigured");
        let err = field_call("ForeignKey", vec![Value::str("A")], vec![]).unwrap_err();
        assert_eq!(
            err.message,
            "ForeignKey.__init__() missing 1 required positional argument: 'on_delete'"
        );
    }

    fn call(class: &str, pairs: &[(&str, Value)]) -> Value {
        Value::Opaque(Rc::from(class), Rc::new(kw(pairs)))
    }

    fn q(field: &str, value: i64) -> Value {
        Value::Q(Rc::new(Q::new(
            field,
            quiver::expressions::Expression::from(value),
        )))
    }

    #[test]
    fn meta_constraints_and_indexes_map_to_the_model_builder() {
        let fields = || Value::List(Rc::new(std::cell::RefCell::new(vec![Value::str("a")])));
        let model = Model::new("T");
        let model = meta_constraint(
            model,
            &call(
                "UniqueConstraint",
                &[
                    ("fields", fields()),
                    ("name", Value::str("u")),
                    ("condition", q("b", 1)),
                ],
            ),
        )
        .unwrap();
        let model = meta_constraint(
            model,
            &call(
                "CheckConstraint",
                &[("check", q("a", 2)), ("name", Value::str("c"))],
            ),
        )
        .unwrap();
        let model = meta_index(
            model,
            &call(
                "Index",
                &[
                    ("fields", fields()),
                    ("name", Value::str("i")),
                    ("condition", q("b", 3)),
                ],
            ),
        )
        .unwrap();
        let model = meta_index(model, &call("Index", &[("fields", fields())])).unwrap();
        let [quiver::model::MetaConstraint::Unique(unique), quiver::model::MetaConstraint::Check(check)] =
            model.constraints()
        else {
            panic!("constraints: {:?}", model.constraints())
        };
        assert_eq!(
            (unique.name.as_str(), unique.fields.as_slice()),
            ("u", &["a".to_string()][..])
        );
        assert_eq!(
            unique.condition.as_ref().map(ToString::to_string),
            Some(Q::new("b", quiver::expressions::Expression::from(1i64)).to_string())
        );
        assert_eq!(
            (check.name.as_str(), check.condition.to_string()),
            (
                "c",
                Q::new("a", quiver::expressions::Expression::from(2i64)).to_string()
            )
        );
        assert_eq!(model.index_specs().len(), 1);
        assert_eq!(model.index_specs()[0].name, "i");
        assert!(model.index_specs()[0].condition.is_some());
        assert_eq!(model.indexes().len(), 1);
        let fk = field_call(
            "ForeignKey",
            vec![
                Value::str("A"),
                Value::Opaque(Rc::from("CASCADE"), Rc::new(vec![])),
            ],
            kw(&[("db_constraint", Value::Bool(false))]),
        )
        .unwrap();
        let Value::Field(fk) = fk else {
            panic!("not a field")
        };
        assert!(!fk.spec.db_constraint);
    }

    /// Messages from Django 5.1.4 (`models.Index(...)` etc. run in the oracle's venv).
    #[test]
    fn bad_meta_entries_raise_djangos_errors() {
        let fields = || Value::List(Rc::new(std::cell::RefCell::new(vec![Value::str("a")])));
        let error = |result: Result<Model, ScriptError>| {
            let e = result.unwrap_err();
            (e.kind.to_string(), e.message)
        };
        let model = || Model::new("T");
        assert_eq!(
            error(meta_index(
                model(),
                &call("Index", &[("fields", fields()), ("condition", q("a", 1))])
            )),
            (
                "ValueError".into(),
                "An index must be named to use condition.".into()
            )
        );
        assert_eq!(
            error(meta_index(
                model(),
                &call("Index", &[("name", Value::str("i"))])
            )),
            (
                "ValueError".into(),
                "At least one field or expression is required to define an index.".into()
            )
        );
        assert_eq!(
            error(meta_index(
                model(),
                &call(
                    "Index",
                    &[
                        ("fields", fields()),
                        ("name", Value::str("i")),
                        ("condition", Value::Int(1))
                    ]
                )
            )),
            (
                "ValueError".into(),
                "Index.condition must be a Q instance.".into()
            )
        );
        assert_eq!(
            error(meta_constraint(
                model(),
                &call("CheckConstraint", &[("condition", q("a", 1))])
            )),
            (
                "TypeError".into(),
                "CheckConstraint.__init__() missing 1 required keyword-only argument: 'name'"
                    .into()
            )
        );
        assert_eq!(
            error(meta_constraint(
                model(),
                &call(
                    "CheckConstraint",
                    &[("check", Value::Int(1)), ("name", Value::str("c"))]
                )
            )),
            (
                "TypeError".into(),
                "CheckConstraint.condition must be a Q instance or boolean expression.".into()
            )
        );
        assert_eq!(
            error(meta_constraint(
                model(),
                &call("UniqueConstraint", &[("fields", fields())])
            )),
            (
                "ValueError".into(),
                "A unique constraint must be named.".into()
            )
        );
        assert_eq!(
            error(meta_constraint(
                model(),
                &call(
                    "UniqueConstraint",
                    &[
                        ("fields", fields()),
                        ("name", Value::str("u")),
                        ("condition", Value::Int(1))
                    ]
                )
            )),
            (
                "ValueError".into(),
                "UniqueConstraint.condition must be a Q instance.".into()
            )
        );
    }

    #[test]
    fn models_register_in_dependency_order() {
        let db = Database::new();
        let at = Location {
            file: "t.py".into(),
            line: 1,
            col: 1,
        };
        let order = Model::new("Order").field(
            "customer",
            quiver::model::ForeignKey::new("Customer", OnDelete::Cascade),
        );
        let customer = Model::new("Customer").field("name", quiver::model::CharField::new(5));
        register_all(
            &db,
            vec![
                PendingModel {
                    model: order,
                    location: at.clone(),
                },
                PendingModel {
                    model: customer,
                    location: at,
                },
            ],
        )
        .unwrap();
        let names: Vec<String> = db
            .registry()
            .models()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        assert_eq!(names, ["Customer", "Order"]);
    }
}
