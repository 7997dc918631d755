//! [`ScriptError`]: a Python exception raised while a script is parsed or run.
//!
//! Every error has the exception class a Python/Django user would see (`SyntaxError`,
//! `NameError`, `FieldError`, `DoesNotExist`, …), Django's message, and — once it has passed
//! through a statement — the file, line and column where it happened. `try/except` matches on
//! the class (and, for `Model.DoesNotExist`, on the model).

use std::fmt;

/// Where in a script something happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

/// A Python exception.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    /// The exception class name (`"FieldError"`).
    pub kind: String,
    pub message: String,
    /// For `DoesNotExist` / `MultipleObjectsReturned`: the model whose query raised it.
    pub model: Option<String>,
    pub location: Option<Location>,
}

impl ScriptError {
    /// An exception of class `kind`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> ScriptError {
        ScriptError {
            kind: kind.into(),
            message: message.into(),
            model: None,
            location: None,
        }
    }

    /// A `SyntaxError` at a position.
    pub fn syntax(file: &str, line: usize, col: usize, message: impl Into<String>) -> ScriptError {
        ScriptError::new("SyntaxError", message).at(file, line, col)
    }

    /// `TypeError`.
    pub fn type_error(message: impl Into<String>) -> ScriptError {
        ScriptError::new("TypeError", message)
    }

    /// `ValueError`.
    pub fn value_error(message: impl Into<String>) -> ScriptError {
        ScriptError::new("ValueError", message)
    }

    /// `AttributeError: 'X' object has no attribute 'y'`.
    pub fn attribute(type_name: &str, name: &str) -> ScriptError {
        ScriptError::new(
            "AttributeError",
            format!("'{type_name}' object has no attribute '{name}'"),
        )
    }

    /// A construct outside the supported subset of Python.
    pub fn unsupported(what: impl fmt::Display) -> ScriptError {
        ScriptError::new("SyntaxError", format!("unsupported construct: {what}"))
    }

    /// Sets the position unless one is already known (the innermost position wins).
    pub fn at(mut self, file: &str, line: usize, col: usize) -> ScriptError {
        if self.location.is_none() {
            self.location = Some(Location {
                file: file.to_string(),
                line,
                col,
            });
        }
        self
    }
}

impl From<quiver::Error> for ScriptError {
    fn from(e: quiver::Error) -> ScriptError {
        ScriptError::new(e.django_name(), e.to_string())
    }
}

impl fmt::Display for ScriptError {
    /// `file.py:3:5: FieldError: Cannot resolve keyword …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{}:{}:{}: ", l.file, l.line, l.col)?;
        }
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ScriptError {}
