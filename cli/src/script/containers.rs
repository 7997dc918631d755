//! Containers: building sets and dicts, iterating any iterable (a QuerySet runs its query),
//! indexing, slicing and item assignment with Python's rules for negative indices and steps.

use std::rc::Rc;

use super::error::ScriptError;
use super::interpreter::Interpreter;
use super::operators::values_equal;
use super::values::Value;

/// A set from items (duplicates dropped, first occurrence kept).
pub fn make_set(items: Vec<Value>) -> Value {
    let mut out: Vec<Value> = vec![];
    for i in items {
        if !out.iter().any(|v| values_equal(v, &i)) {
            out.push(i);
        }
    }
    Value::Set(Rc::new(std::cell::RefCell::new(out)))
}

/// Inserts or replaces a dict entry.
pub fn dict_insert(
    items: &mut Vec<(Value, Value)>,
    key: Value,
    value: Value,
) -> Result<(), ScriptError> {
    if matches!(key, Value::List(_) | Value::Dict(_) | Value::Set(_)) {
        return Err(ScriptError::type_error(format!(
            "unhashable type: '{}'",
            key.type_name()
        )));
    }
    match items.iter_mut().find(|(k, _)| values_equal(k, &key)) {
        Some(slot) => slot.1 = value,
        None => items.push((key, value)),
    }
    Ok(())
}

/// The items of an iterable value.
pub fn iterate(interp: &mut Interpreter, value: &Value) -> Result<Vec<Value>, ScriptError> {
    Ok(match value {
        Value::List(l) | Value::Set(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
        Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
        Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager(_) => {
            super::queryset::evaluate(interp, value)?
        }
        other => {
            return Err(ScriptError::type_error(format!(
                "'{}' object is not iterable",
                other.type_name()
            )))
        }
    })
}

pub(super) fn index_of(len: usize, i: i64, what: &str) -> Result<usize, ScriptError> {
    let j = if i < 0 { i + len as i64 } else { i };
    if j < 0 || j >= len as i64 {
        return Err(ScriptError::new(
            "IndexError",
            format!("{what} index out of range"),
        ));
    }
    Ok(j as usize)
}

/// `object[index]`.
pub fn get_item(
    interp: &mut Interpreter,
    object: &Value,
    index: &Value,
) -> Result<Value, ScriptError> {
    match (object, index) {
        (Value::List(l), Value::Int(i)) => {
            let l = l.borrow();
            Ok(l[index_of(l.len(), *i, "list")?].clone())
        }
        (Value::Tuple(t), Value::Int(i)) => Ok(t[index_of(t.len(), *i, "tuple")?].clone()),
        (Value::Str(s), Value::Int(i)) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::str(
                chars[index_of(chars.len(), *i, "string")?].to_string(),
            ))
        }
        (Value::Dict(d), key) => d
            .borrow()
            .iter()
            .find(|(k, _)| values_equal(k, key))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ScriptError::new("KeyError", key.repr())),
        (Value::QuerySet(_) | Value::Manager(_), Value::Int(i)) => {
            super::queryset::index(interp, object, *i)
        }
        (Value::List(_) | Value::Tuple(_) | Value::Str(_), other) => {
            Err(ScriptError::type_error(format!(
                "{} indices must be integers or slices, not {}",
                object.type_name(),
                other.type_name()
            )))
        }
        _ => Err(ScriptError::type_error(format!(
            "'{}' object is not subscriptable",
            object.type_name()
        ))),
    }
}

/// `object[a:b:c]`.
pub fn slice(
    interp: &mut Interpreter,
    object: &Value,
    a: Option<i64>,
    b: Option<i64>,
    c: Option<i64>,
) -> Result<Value, ScriptError> {
    if let Value::QuerySet(_) | Value::Manager(_) = object {
        if c.is_none() || c == Some(1) {
            return super::queryset::slice(interp, object, a, b);
        }
        let items = interp.iterate(object)?;
        return slice(interp, &Value::list(items), a, b, c);
    }
    let items: Vec<Value> = match object {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
        other => {
            return Err(ScriptError::type_error(format!(
                "'{}' object is not subscriptable",
                other.type_name()
            )))
        }
    };
    let len = items.len() as i64;
    let step = c.unwrap_or(1);
    if step == 0 {
        return Err(ScriptError::value_error("slice step cannot be zero"));
    }
    let clamp = |v: Option<i64>, default: i64, low: i64, high: i64| match v {
        None => default,
        Some(v) if v < 0 => (v + len).clamp(low, high),
        Some(v) => v.clamp(low, high),
    };
    let picked: Vec<Value> = if step > 0 {
        let (start, stop) = (clamp(a, 0, 0, len), clamp(b, len, 0, len));
        (start..stop.max(start))
            .step_by(step as usize)
            .map(|i| items[i as usize].clone())
            .collect()
    } else {
        let (start, stop) = (clamp(a, len - 1, -1, len - 1), clamp(b, -1, -1, len - 1));
        let mut out = vec![];
        let mut i = start;
        while i > stop {
            out.push(items[i as usize].clone());
            i += step;
        }
        out
    };
    Ok(match object {
        Value::List(_) => Value::list(picked),
        Value::Tuple(_) => Value::tuple(picked),
        _ => Value::str(picked.iter().map(Value::to_str).collect::<String>()),
    })
}

/// `object[index] = value`.
pub fn set_item(object: &Value, index: Value, value: Value) -> Result<(), ScriptError> {
    match (object, &index) {
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            let j = index_of(l.len(), *i, "list assignment")?;
            l[j] = value;
            Ok(())
        }
        (Value::Dict(d), _) => dict_insert(&mut d.borrow_mut(), index, value),
        _ => Err(ScriptError::type_error(format!(
            "'{}' object does not support item assignment",
            object.type_name()
        ))),
    }
}

/// `del object[index]`.
pub fn del_item(object: &Value, index: &Value) -> Result<(), ScriptError> {
    match (object, index) {
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            let j = index_of(l.len(), *i, "list assignment")?;
            l.remove(j);
            Ok(())
        }
        (Value::Dict(d), key) => {
            let mut d = d.borrow_mut();
            let before = d.len();
            d.retain(|(k, _)| !values_equal(k, key));
            if d.len() == before {
                return Err(ScriptError::new("KeyError", key.repr()));
            }
            Ok(())
        }
        _ => Err(ScriptError::type_error(format!(
            "'{}' object does not support item deletion",
            object.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp() -> Interpreter {
        Interpreter::new(
            "t.py",
            std::path::PathBuf::from("."),
            crate::script::Mode::Print(crate::script::Format::Json),
            Box::new(std::io::sink()),
        )
    }

    #[test]
    fn slices_follow_python() {
        let mut i = interp();
        let list = Value::list((0..6).map(Value::Int).collect());
        assert_eq!(
            slice(&mut i, &list, None, None, Some(-2)).unwrap().repr(),
            "[5, 3, 1]"
        );
        assert_eq!(
            slice(&mut i, &list, Some(-2), None, None).unwrap().repr(),
            "[4, 5]"
        );
        assert_eq!(
            slice(&mut i, &Value::str("hello"), Some(1), Some(-1), None)
                .unwrap()
                .repr(),
            "'ell'"
        );
    }
}
