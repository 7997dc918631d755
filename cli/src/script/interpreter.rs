//! The interpreter: runs a parsed script statement by statement.
//!
//! Python's evaluation rules for the subset (names resolve local → global → built-in,
//! containers are shared, exceptions unwind to the nearest matching `except`), with every
//! Django object handed to the `quiver` crate: model classes become registered
//! [`quiver::Model`](struct@quiver::Model)s ([`models`](super::models)), `Model.objects…`
//! chains become [`quiver::QuerySet`]s ([`queryset`](super::queryset)). Like the Django
//! oracle's runner, models are registered (their tables created) right before the first
//! statement that is not an import, a class definition or a docstring, so forward references
//! between model classes work.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

use quiver::{Database, QuerySet};

use super::ast::*;
use super::error::ScriptError;
use super::models::PendingModel;
use super::output::{self, Format, Printable};
use super::values::{Function, FunctionBody, ModelClass, Value};

/// What a top-level name holds, for the shell's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalKind {
    /// A model class (`Customer`).
    Model(String),
    /// A manager, related manager or QuerySet of a model.
    QuerySet(String),
    /// A model instance.
    Instance(String),
    /// A module-like namespace (`transaction`, `models`).
    Module(&'static str),
}

/// What `print()` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write each printed value in this format.
    Print(Format),
    /// `quiver explain`: write the plans of each printed QuerySet.
    Explain,
}

/// How a block finished.
pub(super) enum Flow {
    Normal,
    Return(Value),
    Break,
    Continue,
}

/// A script's run-time state: its database, variables and output.
pub struct Interpreter {
    pub db: Database,
    pub file: String,
    /// Relative paths in the script (fixtures, CSV files) are relative to this folder.
    pub base_dir: PathBuf,
    pub mode: Mode,
    pub(super) globals: HashMap<String, Value>,
    pub(super) frames: Vec<HashMap<String, Value>>,
    pub(super) pending: Vec<PendingModel>,
    pub(super) classes: HashMap<String, Rc<ModelClass>>,
    /// User-defined exception classes and their base class.
    pub(super) exception_bases: HashMap<String, String>,
    out: Box<dyn Write>,
    /// Echo expression statements as Python's REPL does (the shell).
    pub echo: bool,
    /// Sibling files already run by an import.
    loaded_modules: std::collections::HashSet<String>,
    /// Runs once the script's models are registered (data loads named on the command line).
    pub on_ready: Option<Box<dyn FnMut(&Database) -> Result<(), ScriptError>>>,
    /// The script's side of the current `transaction.atomic()` block.
    pub(super) transaction: super::transaction::TransactionState,
}

impl Interpreter {
    /// A fresh interpreter over an empty database, printing to `out`.
    pub fn new(file: &str, base_dir: PathBuf, mode: Mode, out: Box<dyn Write>) -> Interpreter {
        let db = Database::new();
        db.enable_query_log(true);
        Interpreter {
            db,
            file: file.to_string(),
            base_dir,
            mode,
            globals: HashMap::new(),
            frames: Vec::new(),
            pending: Vec::new(),
            classes: HashMap::new(),
            exception_bases: HashMap::new(),
            out,
            echo: false,
            loaded_modules: std::collections::HashSet::new(),
            on_ready: None,
            transaction: Default::default(),
        }
    }

    /// Names visible at the top level (for the shell's completion).
    pub fn global_names(&self) -> Vec<String> {
        self.globals.keys().cloned().collect()
    }

    /// What the shell's completion needs to know of each top-level name: the model behind a
    /// model class, manager, QuerySet or instance, and which of these it is.
    pub fn global_kinds(&self) -> Vec<(String, GlobalKind)> {
        self.globals
            .iter()
            .filter_map(|(name, value)| {
                let kind = match value {
                    Value::ModelClass(class) => GlobalKind::Model(class.name.clone()),
                    Value::Manager(model) => GlobalKind::QuerySet(model.to_string()),
                    Value::QuerySet(q) => GlobalKind::QuerySet(q.model.clone()),
                    Value::RelatedManager(set) => GlobalKind::QuerySet(set.model.clone()),
                    Value::Instance(i) => GlobalKind::Instance(i.borrow().model.clone()),
                    Value::Module(module) => GlobalKind::Module(module),
                    _ => return None,
                };
                Some((name.clone(), kind))
            })
            .collect()
    }

    /// Runs a whole module. An uncaught exception stops it and is returned with its position.
    pub fn run_module(&mut self, body: &[Stmt]) -> Result<(), ScriptError> {
        for stmt in body {
            if !is_definition(stmt) {
                self.register_pending()?;
            }
            match self.exec(stmt)? {
                Flow::Normal => {}
                _ => {
                    return Err(ScriptError::syntax(
                        &self.file,
                        stmt.line,
                        stmt.col,
                        "'return', 'break' or 'continue' outside a function or loop",
                    ))
                }
            }
        }
        Ok(())
    }

    /// `from .models import *` / `import models`: when the module is a file next to the
    /// script (`models.py`), it runs once, in the same namespace, so a queries file can use
    /// the models of its `models.py`. Returns whether `module` was such a file.
    fn run_sibling_module(&mut self, module: &str) -> Result<bool, ScriptError> {
        let library = [
            "django",
            "datetime",
            "decimal",
            "math",
            "json",
            "collections",
            "typing",
        ];
        let top = module
            .trim_start_matches('.')
            .split('.')
            .next()
            .unwrap_or_default();
        if module.is_empty() || library.contains(&top) {
            return Ok(false);
        }
        let last = module.rsplit('.').next().unwrap_or(module);
        let path = self.base_dir.join(format!("{last}.py"));
        let key = path.display().to_string();
        if !path.is_file() || key == self.file {
            return Ok(false);
        }
        if !self.loaded_modules.insert(key.clone()) {
            return Ok(true);
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|e| ScriptError::new("ImportError", format!("{key}: {e}")))?;
        let body = super::parser::parse(&source, &key)?;
        let file = std::mem::replace(&mut self.file, key);
        let result = self.run_module(&body);
        self.file = file;
        result.map(|()| true)
    }

    /// Registers the model classes defined so far (as Django's runner creates their tables).
    pub fn register_pending(&mut self) -> Result<(), ScriptError> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            super::models::register_all(&self.db, pending)?;
        }
        if let Some(mut ready) = self.on_ready.take() {
            ready(&self.db)?;
        }
        Ok(())
    }

    fn located(&self, e: ScriptError, line: usize, col: usize) -> ScriptError {
        e.at(&self.file, line, col)
    }

    pub(super) fn exec_block(&mut self, body: &[Stmt]) -> Result<Flow, ScriptError> {
        for stmt in body {
            match self.exec(stmt)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn exec(&mut self, stmt: &Stmt) -> Result<Flow, ScriptError> {
        self.exec_inner(stmt)
            .map_err(|e| self.located(e, stmt.line, stmt.col))
    }

    fn exec_inner(&mut self, stmt: &Stmt) -> Result<Flow, ScriptError> {
        match &stmt.kind {
            StmtKind::Expr(e) => {
                let value = self.eval(e)?;
                if self.echo && !matches!(value, Value::None) && self.frames.is_empty() {
                    self.echo_value(&value)?;
                }
            }
            StmtKind::Assign(targets, value) => {
                let value = self.eval(value)?;
                for t in targets {
                    self.assign(t, value.clone())?;
                }
            }
            StmtKind::AugAssign(target, op, value) => {
                let current = self.eval(target)?;
                let right = self.eval(value)?;
                let result = match (&current, *op) {
                    (Value::List(items), "+") => {
                        let extra = self.iterate(&right)?;
                        items.borrow_mut().extend(extra);
                        current.clone()
                    }
                    _ => self.binary(&current, op, &right)?,
                };
                self.assign(target, result)?;
            }
            StmtKind::Class { name, bases, body } => self.define_class(name, bases, body, stmt)?,
            StmtKind::Def {
                name, params, body, ..
            } => {
                let function =
                    self.make_function(name, params, FunctionBody::Statements(body.clone()))?;
                self.set_name(name, Value::Function(Rc::new(function)));
            }
            StmtKind::Return(value) => {
                let value = match value {
                    Some(v) => self.eval(v)?,
                    None => Value::None,
                };
                return Ok(Flow::Return(value));
            }
            StmtKind::If(cond, body, orelse) => {
                let cond = self.eval(cond)?;
                return if self.truthy(&cond)? {
                    self.exec_block(body)
                } else {
                    self.exec_block(orelse)
                };
            }
            StmtKind::For(target, iter, body, orelse) => {
                let iter = self.eval(iter)?;
                let items = self.iterate(&iter)?;
                for item in items {
                    self.assign(target, item)?;
                    match self.exec_block(body)? {
                        Flow::Break => return Ok(Flow::Normal),
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Normal | Flow::Continue => {}
                    }
                }
                return self.exec_block(orelse);
            }
            StmtKind::While(cond, body) => loop {
                let c = self.eval(cond)?;
                if !self.truthy(&c)? {
                    break;
                }
                match self.exec_block(body)? {
                    Flow::Break => break,
                    Flow::Return(v) => return Ok(Flow::Return(v)),
                    Flow::Normal | Flow::Continue => {}
                }
            },
            StmtKind::With(items, body) => {
                let mut savepoint = true;
                for (ctx, target) in items {
                    let value = self.eval(ctx)?;
                    let Value::Opaque(name, options) = &value else {
                        return Err(ScriptError::unsupported(format!(
                            "'with' on {} (only transaction.atomic() is supported)",
                            value.type_name()
                        )));
                    };
                    if &**name != "Atomic" {
                        return Err(ScriptError::unsupported(format!(
                            "'with' on {} (only transaction.atomic() is supported)",
                            value.type_name()
                        )));
                    }
                    savepoint &= options.iter().all(|(k, v)| k != "savepoint" || v.truthy());
                    if let Some(t) = target {
                        self.assign(t, Value::None)?;
                    }
                }
                // `with atomic(), atomic():` nests like two blocks; one savepoint does the same.
                return self.atomic_block(body, savepoint);
            }
            StmtKind::Try {
                body,
                handlers,
                orelse,
                finally,
            } => return self.exec_try(body, handlers, orelse, finally),
            StmtKind::Raise(value) => {
                let Some(value) = value else {
                    return Err(match self.lookup("__exception__") {
                        Some(Value::Exception(e)) => (*e).clone(),
                        _ => ScriptError::new("RuntimeError", "No active exception to reraise"),
                    });
                };
                let value = self.eval(value)?;
                return Err(match value {
                    Value::Exception(e) => {
                        let mut e = (*e).clone();
                        e.location = None;
                        e
                    }
                    Value::ExceptionClass { name, model } => {
                        let mut e = ScriptError::new(name.to_string(), "");
                        e.model = model.map(|m| m.to_string());
                        e
                    }
                    other => ScriptError::type_error(format!(
                        "exceptions must derive from BaseException, not {}",
                        other.type_name()
                    )),
                });
            }
            StmtKind::Assert(cond, message) => {
                let c = self.eval(cond)?;
                if !self.truthy(&c)? {
                    let message = match message {
                        Some(m) => {
                            let m = self.eval(m)?;
                            self.str_of(&m)?
                        }
                        None => String::new(),
                    };
                    return Err(ScriptError::new("AssertionError", message));
                }
            }
            StmtKind::Import(names) => {
                for (module, name, bound) in names {
                    let plain = module.is_empty();
                    if self.run_sibling_module(if plain { name } else { module })? {
                        continue;
                    }
                    if plain {
                        // `import datetime as dt`: the module under another name.
                        let last = name.rsplit('.').next().unwrap_or(name);
                        if bound != name.split('.').next().unwrap_or(name) {
                            if let Some(v) = super::builtins::builtin(last) {
                                self.set_name(bound, v);
                            }
                        }
                        continue;
                    }
                    // `from datetime import datetime` makes the name the class, not the module.
                    if module == "datetime"
                        && matches!(name.as_str(), "datetime" | "date" | "time" | "timedelta")
                    {
                        self.set_name(bound, Value::Builtin(Rc::from(format!("datetime.{name}"))));
                    } else if bound != name && name != "*" {
                        if let Some(v) = super::builtins::builtin(name) {
                            self.set_name(bound, v);
                        }
                    }
                }
            }
            StmtKind::Global(names, global) => {
                let marker = if *global { GLOBAL } else { NONLOCAL };
                if let Some(frame) = self.frames.last_mut() {
                    for name in names {
                        frame.insert(name.clone(), Value::Opaque(Rc::from(marker), Rc::default()));
                    }
                }
            }
            StmtKind::Pass => {}
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
            StmtKind::Del(targets) => {
                for t in targets {
                    self.delete(t)?;
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn exec_try(
        &mut self,
        body: &[Stmt],
        handlers: &[Handler],
        orelse: &[Stmt],
        finally: &[Stmt],
    ) -> Result<Flow, ScriptError> {
        let result = match self.exec_block(body) {
            Ok(Flow::Normal) => self.exec_block(orelse),
            Ok(other) => Ok(other),
            Err(error)
                if error.kind == "SyntaxError"
                    && error.message.starts_with("unsupported construct") =>
            {
                Err(error)
            }
            Err(error) => {
                let mut handled = None;
                for h in handlers {
                    let matches = match &h.classes {
                        None => true,
                        Some(classes) => {
                            let classes = self.eval(classes)?;
                            self.exception_matches(&error, &classes)?
                        }
                    };
                    if matches {
                        let exception = Value::Exception(Rc::new(error.clone()));
                        if let Some(name) = &h.name {
                            self.set_name(name, exception.clone());
                        }
                        let saved = self.lookup("__exception__");
                        self.set_name("__exception__", exception);
                        let r = self.exec_block(&h.body);
                        self.set_name("__exception__", saved.unwrap_or(Value::None));
                        handled = Some(r);
                        break;
                    }
                }
                handled.unwrap_or(Err(error))
            }
        };
        if !finally.is_empty() {
            match self.exec_block(finally)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        result
    }

    /// Whether `error` is an instance of the class (or tuple of classes) `classes`.
    fn exception_matches(&self, error: &ScriptError, classes: &Value) -> Result<bool, ScriptError> {
        match classes {
            Value::Tuple(items) => {
                for c in items.iter() {
                    if self.exception_matches(error, c)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Value::ExceptionClass { name, model } => {
                if let Some(model) = model {
                    if error
                        .model
                        .as_deref()
                        .is_some_and(|m| !m.eq_ignore_ascii_case(model))
                    {
                        return Ok(false);
                    }
                }
                let mut kind = error.kind.clone();
                loop {
                    if kind == **name {
                        return Ok(true);
                    }
                    match self.exception_parent(&kind) {
                        Some(parent) => kind = parent,
                        None => return Ok(false),
                    }
                }
            }
            other => Err(ScriptError::type_error(format!(
                "catching classes that do not inherit from BaseException is not allowed (got {})",
                other.type_name()
            ))),
        }
    }

    fn exception_parent(&self, kind: &str) -> Option<String> {
        if let Some(parent) = self.exception_bases.get(kind) {
            return Some(parent.clone());
        }
        let parent = match kind {
            "BaseException" => return None,
            "Exception" => "BaseException",
            "DoesNotExist" => "ObjectDoesNotExist",
            "RelatedObjectDoesNotExist" => "DoesNotExist",
            "KeyError" | "IndexError" => "LookupError",
            "ZeroDivisionError" | "OverflowError" => "ArithmeticError",
            "DataError" | "IntegrityError" | "NotSupportedError" | "InternalError"
            | "OperationalError" | "ProgrammingError" => "DatabaseError",
            "DatabaseError" | "InterfaceError" => "Error",
            "ObjectDoesNotExist"
            | "FieldError"
            | "ValidationError"
            | "ImproperlyConfigured"
            | "MultipleObjectsReturned" => "Exception",
            "TransactionManagementError" => "ProgrammingError",
            "SyntaxError" | "NameError" | "TypeError" | "ValueError" | "AttributeError"
            | "LookupError" | "ArithmeticError" | "AssertionError" | "RuntimeError" | "Error"
            | "ResourcesExhausted" => "Exception",
            "UnboundLocalError" => "NameError",
            "FileNotFoundError" => "OSError",
            "InvalidOperation" => "ArithmeticError",
            "NotImplementedError" | "RecursionError" => "RuntimeError",
            _ => "Exception",
        };
        Some(parent.to_string())
    }

    fn define_class(
        &mut self,
        name: &str,
        bases: &[Expr],
        body: &[Stmt],
        stmt: &Stmt,
    ) -> Result<(), ScriptError> {
        let bases: Vec<Value> = bases
            .iter()
            .map(|b| self.eval(b))
            .collect::<Result<_, _>>()?;
        let model_bases: Vec<Rc<ModelClass>> = bases
            .iter()
            .filter_map(|b| match b {
                Value::ModelClass(c) => Some(Rc::clone(c)),
                _ => None,
            })
            .collect();
        if let Some(concrete) = model_bases.iter().find(|c| c.abstract_model.is_none()) {
            return Err(ScriptError::unsupported(format!(
                "class '{name}({})': multi-table inheritance (only abstract base models)",
                concrete.name
            )));
        }
        let is_model = !model_bases.is_empty()
            || bases.iter().any(
                |b| matches!(b, Value::Builtin(n) if &**n == "models.Model" || &**n == "Model"),
            );
        if let Some(Value::ExceptionClass { name: base, .. }) = bases.first() {
            self.exception_bases
                .insert(name.to_string(), base.to_string());
            self.set_name(
                name,
                Value::ExceptionClass {
                    name: Rc::from(name),
                    model: None,
                },
            );
            return Ok(());
        }
        if !is_model {
            return Err(ScriptError::unsupported(format!(
                "class '{name}': only model classes (models.Model) and exception classes can be defined"
            )));
        }
        let (pending, class) = super::models::define_model(self, name, &model_bases, body, stmt)?;
        if let Some(pending) = pending {
            self.pending.push(pending);
        }
        self.classes.insert(name.to_string(), Rc::clone(&class));
        self.set_name(name, Value::ModelClass(class));
        Ok(())
    }

    pub(super) fn make_function(
        &mut self,
        name: &str,
        params: &[Param],
        body: FunctionBody,
    ) -> Result<Function, ScriptError> {
        let defaults = params
            .iter()
            .map(|p| p.default.as_ref().map(|d| self.eval(d)).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Function {
            name: name.to_string(),
            params: params.to_vec(),
            defaults,
            body,
        })
    }

    /// Calls a user function.
    pub(super) fn call_function(
        &mut self,
        function: &Function,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    ) -> Result<Value, ScriptError> {
        if self.frames.len() > 200 {
            return Err(ScriptError::new(
                "RecursionError",
                "maximum recursion depth exceeded",
            ));
        }
        let mut frame = HashMap::new();
        let mut args = args.into_iter();
        let mut extra_kwargs = vec![];
        let mut kwargs: Vec<(String, Value)> = kwargs;
        for (param, default) in function.params.iter().zip(&function.defaults) {
            match param.star {
                1 => {
                    frame.insert(param.name.clone(), Value::tuple(args.by_ref().collect()));
                }
                2 => {}
                _ => {
                    let value = match args.next() {
                        Some(v) => v,
                        None => match kwargs.iter().position(|(k, _)| *k == param.name) {
                            Some(i) => kwargs.remove(i).1,
                            None => default.clone().ok_or_else(|| {
                                ScriptError::type_error(format!(
                                    "{}() missing 1 required positional argument: '{}'",
                                    function.name, param.name
                                ))
                            })?,
                        },
                    };
                    frame.insert(param.name.clone(), value);
                }
            }
        }
        if let Some(p) = function.params.iter().find(|p| p.star == 2) {
            extra_kwargs.append(&mut kwargs);
            frame.insert(
                p.name.clone(),
                Value::dict(
                    extra_kwargs
                        .into_iter()
                        .map(|(k, v)| (Value::str(k), v))
                        .collect(),
                ),
            );
        }
        if args.next().is_some() {
            return Err(ScriptError::type_error(format!(
                "{}() takes {} positional arguments but more were given",
                function.name,
                function.params.len()
            )));
        }
        if let Some((k, _)) = kwargs.first() {
            return Err(ScriptError::type_error(format!(
                "{}() got an unexpected keyword argument '{k}'",
                function.name
            )));
        }
        self.frames.push(frame);
        let result = match &function.body {
            FunctionBody::Statements(body) => self.exec_block(body).map(|flow| match flow {
                Flow::Return(v) => v,
                _ => Value::None,
            }),
            FunctionBody::Lambda(expr) => self.eval(expr),
        };
        self.frames.pop();
        result
    }

    pub(super) fn set_name(&mut self, name: &str, value: Value) {
        let Some(frame) = self.frames.last_mut() else {
            self.globals.insert(name.to_string(), value);
            return;
        };
        match frame.get(name).and_then(scope_marker) {
            Some(GLOBAL) => {
                self.globals.insert(name.to_string(), value);
            }
            Some(_) => {
                // `nonlocal`: the nearest enclosing call's variable.
                let depth = self.frames.len() - 1;
                let outer = self.frames[..depth]
                    .iter_mut()
                    .rev()
                    .find(|f| f.get(name).is_some_and(|v| scope_marker(v).is_none()));
                match outer {
                    Some(f) => f.insert(name.to_string(), value),
                    None => self.globals.insert(name.to_string(), value),
                };
            }
            None => {
                frame.insert(name.to_string(), value);
            }
        }
    }

    /// A variable: the innermost frame first, then the frames of the calls enclosing it
    /// (standing in for closures: a `lambda` inside a function sees that function's
    /// variables), then the globals.
    pub(super) fn lookup(&self, name: &str) -> Option<Value> {
        self.frames
            .iter()
            .rev()
            .find_map(|frame| frame.get(name).filter(|v| scope_marker(v).is_none()))
            .or_else(|| self.globals.get(name))
            .cloned()
    }

    pub(super) fn assign(&mut self, target: &Expr, value: Value) -> Result<(), ScriptError> {
        match &target.kind {
            ExprKind::Name(name) => {
                self.set_name(name, value);
                Ok(())
            }
            ExprKind::Tuple(targets) | ExprKind::List(targets)
                if targets
                    .iter()
                    .any(|t| matches!(t.kind, ExprKind::Starred(_))) =>
            {
                // `first, *rest = items`: the starred name takes what the others leave.
                let items = self.iterate(&value)?;
                let star = targets
                    .iter()
                    .position(|t| matches!(t.kind, ExprKind::Starred(_)))
                    .unwrap_or_default();
                let after = targets.len() - star - 1;
                if items.len() < targets.len() - 1 {
                    return Err(ScriptError::value_error(format!(
                        "not enough values to unpack (expected at least {}, got {})",
                        targets.len() - 1,
                        items.len()
                    )));
                }
                let rest_end = items.len() - after;
                for (t, v) in targets[..star].iter().zip(&items[..star]) {
                    self.assign(t, v.clone())?;
                }
                if let ExprKind::Starred(inner) = &targets[star].kind {
                    self.assign(inner, Value::list(items[star..rest_end].to_vec()))?;
                }
                for (t, v) in targets[star + 1..].iter().zip(&items[rest_end..]) {
                    self.assign(t, v.clone())?;
                }
                Ok(())
            }
            ExprKind::Tuple(targets) | ExprKind::List(targets) => {
                let items = self.iterate(&value)?;
                if items.len() != targets.len() {
                    return Err(ScriptError::value_error(if items.len() > targets.len() {
                        format!("too many values to unpack (expected {})", targets.len())
                    } else {
                        format!(
                            "not enough values to unpack (expected {}, got {})",
                            targets.len(),
                            items.len()
                        )
                    }));
                }
                for (t, v) in targets.iter().zip(items) {
                    self.assign(t, v)?;
                }
                Ok(())
            }
            ExprKind::Attribute(object, name) => {
                let object = self.eval(object)?;
                super::queryset::set_attribute(self, &object, name, value)
            }
            ExprKind::Subscript(object, index) => {
                let object = self.eval(object)?;
                let index = self.eval(index)?;
                super::containers::set_item(&object, index, value)
            }
            _ => Err(ScriptError::syntax(
                &self.file,
                target.line,
                target.col,
                "cannot assign to expression",
            )),
        }
    }

    fn delete(&mut self, target: &Expr) -> Result<(), ScriptError> {
        match &target.kind {
            ExprKind::Name(name) => {
                let removed = match self.frames.last_mut() {
                    Some(frame) => frame.remove(name).is_some(),
                    None => self.globals.remove(name).is_some(),
                };
                if removed {
                    Ok(())
                } else {
                    Err(ScriptError::new(
                        "NameError",
                        format!("name '{name}' is not defined"),
                    ))
                }
            }
            ExprKind::Subscript(object, index) => {
                let object = self.eval(object)?;
                let index = self.eval(index)?;
                super::containers::del_item(&object, &index)
            }
            _ => Err(ScriptError::unsupported("del of this target")),
        }
    }

    /// Evaluates an expression; errors get the expression's position.
    pub(super) fn eval(&mut self, expr: &Expr) -> Result<Value, ScriptError> {
        self.eval_inner(expr).map_err(|e| match &expr.kind {
            ExprKind::Call(..)
            | ExprKind::Attribute(..)
            | ExprKind::Subscript(..)
            | ExprKind::Name(_)
            | ExprKind::Binary(..) => self.located(e, expr.line, expr.col),
            _ => e,
        })
    }

    fn eval_inner(&mut self, expr: &Expr) -> Result<Value, ScriptError> {
        Ok(match &expr.kind {
            ExprKind::Name(name) => match self.lookup(name) {
                Some(v) => v,
                None => super::builtins::builtin(name).ok_or_else(|| {
                    ScriptError::new("NameError", format!("name '{name}' is not defined"))
                })?,
            },
            ExprKind::None => Value::None,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Str(s) => Value::str(s),
            ExprKind::FString(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        FPart::Text(t) => out.push_str(t),
                        FPart::Field {
                            expr,
                            conversion,
                            spec,
                        } => {
                            let v = self.eval(expr)?;
                            let v = match conversion {
                                Some('r') => Value::str(self.repr_of(&v)?),
                                Some('s') => Value::str(self.str_of(&v)?),
                                _ => v,
                            };
                            out.push_str(&self.format_value(&v, spec)?);
                        }
                    }
                }
                Value::str(out)
            }
            ExprKind::List(items) => Value::list(self.eval_all(items)?),
            ExprKind::Tuple(items) => Value::tuple(self.eval_all(items)?),
            ExprKind::Set(items) => {
                let items = self.eval_all(items)?;
                super::containers::make_set(items)
            }
            ExprKind::Dict(pairs) => {
                let mut out: Vec<(Value, Value)> = vec![];
                for (k, v) in pairs {
                    let k = self.eval(k)?;
                    let v = self.eval(v)?;
                    super::containers::dict_insert(&mut out, k, v)?;
                }
                Value::dict(out)
            }
            ExprKind::ListComp(elt, generators) => {
                let mut out = vec![];
                self.comprehension(generators, 0, &mut |me| {
                    out.push(me.eval(elt)?);
                    Ok(())
                })?;
                Value::list(out)
            }
            ExprKind::SetComp(elt, generators) => {
                let mut out = vec![];
                self.comprehension(generators, 0, &mut |me| {
                    out.push(me.eval(elt)?);
                    Ok(())
                })?;
                super::containers::make_set(out)
            }
            ExprKind::DictComp(key, value, generators) => {
                let mut out = vec![];
                self.comprehension(generators, 0, &mut |me| {
                    let k = me.eval(key)?;
                    let v = me.eval(value)?;
                    super::containers::dict_insert(&mut out, k, v)
                })?;
                Value::dict(out)
            }
            ExprKind::Attribute(object, name) => {
                let object = self.eval(object)?;
                super::queryset::get_attribute(self, &object, name)?
            }
            ExprKind::Subscript(object, index) => {
                let object = self.eval(object)?;
                if let ExprKind::Slice(a, b, c) = &index.kind {
                    let mut bound = |e: &Option<Box<Expr>>| -> Result<Option<i64>, ScriptError> {
                        match e {
                            None => Ok(None),
                            Some(e) => match self.eval(e)? {
                                Value::None => Ok(None),
                                Value::Int(i) => Ok(Some(i)),
                                other => Err(ScriptError::type_error(format!(
                                    "slice indices must be integers or None, not {}",
                                    other.type_name()
                                ))),
                            },
                        }
                    };
                    let (a, b, c) = (bound(a)?, bound(b)?, bound(c)?);
                    return super::containers::slice(self, &object, a, b, c);
                }
                let index = self.eval(index)?;
                super::containers::get_item(self, &object, &index)?
            }
            ExprKind::Slice(..) => {
                return Err(ScriptError::unsupported("a slice outside a subscript"))
            }
            ExprKind::Call(function, args) => {
                let function = self.eval(function)?;
                let mut positional = vec![];
                let mut keywords = vec![];
                for arg in args {
                    match arg {
                        Arg::Positional(e) => positional.push(self.eval(e)?),
                        Arg::Keyword(k, e) => keywords.push((k.clone(), self.eval(e)?)),
                        Arg::Star(e) => {
                            let v = self.eval(e)?;
                            positional.extend(self.iterate(&v)?);
                        }
                        Arg::DoubleStar(e) => match self.eval(e)? {
                            Value::Dict(d) => {
                                for (k, v) in d.borrow().iter() {
                                    let Value::Str(k) = k else {
                                        return Err(ScriptError::type_error(
                                            "keywords must be strings",
                                        ));
                                    };
                                    keywords.push((k.to_string(), v.clone()));
                                }
                            }
                            other => {
                                return Err(ScriptError::type_error(format!(
                                    "argument after ** must be a mapping, not {}",
                                    other.type_name()
                                )))
                            }
                        },
                    }
                }
                self.call(&function, positional, keywords)?
            }
            ExprKind::Binary(left, op, right) => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                self.binary(&left, op, &right)?
            }
            ExprKind::Unary(op, operand) => {
                let v = self.eval(operand)?;
                match *op {
                    "not" => Value::Bool(!self.truthy(&v)?),
                    _ => super::operators::unary(op, &v)?,
                }
            }
            ExprKind::BoolOp(op, left, right) => {
                let l = self.eval(left)?;
                let truthy = self.truthy(&l)?;
                match (*op, truthy) {
                    ("and", false) | ("or", true) => l,
                    _ => self.eval(right)?,
                }
            }
            ExprKind::Compare(left, ops) => {
                let mut current = self.eval(left)?;
                for (op, right) in ops {
                    let right = self.eval(right)?;
                    if !self.compare(&current, op, &right)? {
                        return Ok(Value::Bool(false));
                    }
                    current = right;
                }
                Value::Bool(true)
            }
            ExprKind::IfElse(cond, then, other) => {
                let c = self.eval(cond)?;
                if self.truthy(&c)? {
                    self.eval(then)?
                } else {
                    self.eval(other)?
                }
            }
            ExprKind::Starred(_) => {
                return Err(ScriptError::syntax(
                    &self.file,
                    expr.line,
                    expr.col,
                    "can't use starred expression here",
                ))
            }
            ExprKind::Lambda(params, body) => {
                let function =
                    self.make_function("<lambda>", params, FunctionBody::Lambda((**body).clone()))?;
                Value::Function(Rc::new(function))
            }
        })
    }

    /// The items of a list, tuple or set display; `*x` spreads an iterable.
    fn eval_all(&mut self, items: &[Expr]) -> Result<Vec<Value>, ScriptError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match &item.kind {
                ExprKind::Starred(inner) => {
                    let value = self.eval(inner)?;
                    out.extend(self.iterate(&value)?);
                }
                _ => out.push(self.eval(item)?),
            }
        }
        Ok(out)
    }

    fn comprehension(
        &mut self,
        generators: &[Comprehension],
        level: usize,
        emit: &mut dyn FnMut(&mut Interpreter) -> Result<(), ScriptError>,
    ) -> Result<(), ScriptError> {
        let Some(generator) = generators.get(level) else {
            return emit(self);
        };
        let iter = self.eval(&generator.iter)?;
        for item in self.iterate(&iter)? {
            self.assign(&generator.target, item)?;
            let mut keep = true;
            for cond in &generator.conditions {
                let c = self.eval(cond)?;
                if !self.truthy(&c)? {
                    keep = false;
                    break;
                }
            }
            if keep {
                self.comprehension(generators, level + 1, emit)?;
            }
        }
        Ok(())
    }

    /// Calls any callable value.
    pub(super) fn call(
        &mut self,
        function: &Value,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    ) -> Result<Value, ScriptError> {
        match function {
            Value::Function(f) => {
                let f = Rc::clone(f);
                self.call_function(&f, args, kwargs)
            }
            Value::Builtin(name) => {
                let name = Rc::clone(name);
                super::builtins::call_builtin(self, &name, args, kwargs)
            }
            Value::Method(receiver, name) => {
                let name = Rc::clone(name);
                super::queryset::call_method(self, receiver, &name, args, kwargs)
            }
            Value::ModelClass(class) => {
                let class = Rc::clone(class);
                super::queryset::new_instance(self, &class, args, kwargs)
            }
            Value::ExceptionClass { name, model } => {
                let message = match args.as_slice() {
                    [] => String::new(),
                    [one] => self.str_of(one)?,
                    many => Value::tuple(many.to_vec()).repr(),
                };
                let mut e = ScriptError::new(name.to_string(), message);
                e.model = model.as_ref().map(|m| m.to_string());
                Ok(Value::Exception(Rc::new(e)))
            }
            other => Err(ScriptError::type_error(format!(
                "'{}' object is not callable",
                other.type_name()
            ))),
        }
    }

    /// Python truthiness; a QuerySet is evaluated (as `bool(qs)` does in Django).
    pub(super) fn truthy(&mut self, value: &Value) -> Result<bool, ScriptError> {
        match value {
            Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager(_) => {
                Ok(!self.iterate(value)?.is_empty())
            }
            other => Ok(other.truthy()),
        }
    }

    /// The items of an iterable (a QuerySet runs its query, once).
    pub(super) fn iterate(&mut self, value: &Value) -> Result<Vec<Value>, ScriptError> {
        super::containers::iterate(self, value)
    }

    pub(super) fn binary(
        &mut self,
        left: &Value,
        op: &str,
        right: &Value,
    ) -> Result<Value, ScriptError> {
        super::operators::binary(self, left, op, right)
    }

    fn compare(&mut self, left: &Value, op: &str, right: &Value) -> Result<bool, ScriptError> {
        super::operators::compare(self, left, op, right)
    }

    /// `str(value)`, with model instances' `__str__`.
    pub(super) fn str_of(&mut self, value: &Value) -> Result<String, ScriptError> {
        match value {
            Value::Instance(_) => super::queryset::instance_str(self, value),
            Value::QuerySet(_) => self.repr_of(value),
            Value::List(_) | Value::Tuple(_) | Value::Dict(_) | Value::Set(_) => {
                self.repr_of(value)
            }
            other => Ok(other.to_str()),
        }
    }

    /// `repr(value)`, with model instances as `<Model: str>` and QuerySets as Django's
    /// `<QuerySet [...]>`.
    pub(super) fn repr_of(&mut self, value: &Value) -> Result<String, ScriptError> {
        let printable = self.printable(value)?;
        Ok(repr_printable(&printable))
    }

    fn format_value(&mut self, value: &Value, spec: &str) -> Result<String, ScriptError> {
        if spec.is_empty() {
            return self.str_of(value);
        }
        let text = self.str_of(value)?;
        super::format::format_spec(value, &text, spec)
    }

    /// Materializes a value for output (QuerySets run, instances expand to their fields).
    pub(super) fn printable(&mut self, value: &Value) -> Result<Printable, ScriptError> {
        Ok(match value {
            Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager(_) => {
                let rows = self.iterate(value)?;
                let rows: Vec<Printable> = rows
                    .iter()
                    .map(|r| self.printable(r))
                    .collect::<Result<_, _>>()?;
                let mut items: Vec<String> = rows.iter().take(20).map(repr_printable).collect();
                if rows.len() > 20 {
                    items.push("'...(remaining elements truncated)...'".into());
                }
                let columns = match value {
                    Value::QuerySet(q) => q.columns.borrow().clone(),
                    _ => vec![],
                };
                Printable::QuerySet {
                    repr: format!("<QuerySet [{}]>", items.join(", ")),
                    rows,
                    columns,
                }
            }
            Value::Instance(i) => {
                let model = i.borrow().model.clone();
                let str = super::queryset::instance_str(self, value)?;
                let text = format!("<{model}: {str}>");
                let fields = i.borrow().fields.clone();
                let fields = fields
                    .into_iter()
                    .map(|(k, v)| Ok((k, self.printable(&v)?)))
                    .collect::<Result<_, ScriptError>>()?;
                Printable::Instance { str, text, fields }
            }
            Value::List(items) => {
                let items = items.borrow().clone();
                Printable::List(
                    items
                        .iter()
                        .map(|v| self.printable(v))
                        .collect::<Result<_, _>>()?,
                )
            }
            Value::Tuple(items) => Printable::Tuple(
                items
                    .iter()
                    .map(|v| self.printable(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Set(items) => {
                let mut items = items.borrow().clone();
                super::builtins::sort_values(self, &mut items, None, false).ok();
                Printable::Set(
                    items
                        .iter()
                        .map(|v| self.printable(v))
                        .collect::<Result<_, _>>()?,
                )
            }
            Value::Dict(pairs) => {
                let pairs = pairs.borrow().clone();
                Printable::Dict(
                    pairs
                        .iter()
                        .map(|(k, v)| Ok((self.printable(k)?, self.printable(v)?)))
                        .collect::<Result<_, ScriptError>>()?,
                )
            }
            other => Printable::Plain(other.clone()),
        })
    }

    /// `print(*args)`.
    pub(super) fn print(&mut self, args: &[Value], sep: &str) -> Result<(), ScriptError> {
        if self.mode == Mode::Explain {
            for a in args {
                if let Some(qs) = super::queryset::as_queryset(self, a)? {
                    let text = explain_text(&qs)?;
                    self.write_line(&text)?;
                }
            }
            return Ok(());
        }
        let printables: Vec<Printable> = args
            .iter()
            .map(|a| self.printable(a))
            .collect::<Result<_, _>>()?;
        let line = match self.mode {
            Mode::Print(Format::Json) => output::json_line(&printables),
            Mode::Print(Format::Csv) => output::csv(&printables),
            _ => match printables.as_slice() {
                [one] => output::table(one)
                    .filter(|_| matches!(one, Printable::QuerySet { .. }))
                    .unwrap_or_else(|| output::text(one)),
                many => many.iter().map(output::text).collect::<Vec<_>>().join(sep),
            },
        };
        self.write_line(&line)
    }

    /// Writes one line of output.
    pub fn write_line(&mut self, line: &str) -> Result<(), ScriptError> {
        writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .map_err(|e| ScriptError::new("OSError", e.to_string()))
    }

    /// The shell's echo: QuerySets as tables, anything else as its `repr()`.
    fn echo_value(&mut self, value: &Value) -> Result<(), ScriptError> {
        let printable = self.printable(value)?;
        let text = match &printable {
            Printable::QuerySet { .. } => {
                output::table(&printable).unwrap_or_else(|| output::text(&printable))
            }
            Printable::Plain(v) => v.repr(),
            other => repr_printable(other),
        };
        self.write_line(&text)
    }
}

fn repr_printable(p: &Printable) -> String {
    match p {
        Printable::Plain(v) => v.repr(),
        Printable::Instance { text, .. } => text.clone(),
        other => output::text(other),
    }
}

/// The plans of a QuerySet for `quiver explain`: its SQL, then logical, optimized and
/// physical plans.
fn explain_text(qs: &QuerySet) -> Result<String, ScriptError> {
    let sql = qs.sql()?;
    let plans = qs.explain()?;
    Ok(format!("-- {sql}\n{plans}"))
}

/// What a frame holds for a name declared `global` / `nonlocal` in it.
const GLOBAL: &str = "<global>";
const NONLOCAL: &str = "<nonlocal>";

fn scope_marker(value: &Value) -> Option<&'static str> {
    match value {
        Value::Opaque(name, _) if &**name == GLOBAL => Some(GLOBAL),
        Value::Opaque(name, _) if &**name == NONLOCAL => Some(NONLOCAL),
        _ => None,
    }
}

/// Django's runner creates tables before the first statement that is not one of these.
fn is_definition(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Import(_) | StmtKind::Class { .. } | StmtKind::Pass => true,
        StmtKind::Expr(e) => matches!(e.kind, ExprKind::Str(_)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// Output that the test can read after the run.
    #[derive(Clone, Default)]
    struct Captured(Rc<RefCell<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn run(source: &str) -> Result<String, ScriptError> {
        let out = Captured::default();
        let mut interp = Interpreter::new(
            "t.py",
            PathBuf::from("."),
            Mode::Print(Format::Json),
            Box::new(out.clone()),
        );
        let body = super::super::parser::parse(source, "t.py")?;
        interp.run_module(&body)?;
        let text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
        Ok(text)
    }

    #[test]
    fn functions_take_defaults_keywords_and_rest_arguments() {
        let out = run("def f(a, b=2, *rest, **named):\n    return [a, b, list(rest), named]\nprint(f(1), f(1, 3, 4, 5, k=6))\n").unwrap();
        assert_eq!(out, "[[1,2,[],{}],[1,3,[4,5],{\"k\":6}]]\n");
        let err = run("def f(a):\n    return a\nf()\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.py:3:1: TypeError: f() missing 1 required positional argument: 'a'"
        );
    }

    #[test]
    fn lambdas_see_the_enclosing_function() {
        let out = run("def by(rows, i):\n    return sorted(rows, key=lambda r: r[i])\nprint(by([(1, 'b'), (2, 'a')], 1))\n").unwrap();
        assert_eq!(out, "[[2,\"a\"],[1,\"b\"]]\n");
    }

    #[test]
    fn global_and_nonlocal_assign_outside_the_function() {
        let source = "n = 0\ndef bump():\n    global n\n    n += 1\ndef outer():\n    k = 1\n    def inner():\n        nonlocal k\n        k = 5\n    inner()\n    return k\nbump()\nbump()\nprint(n, outer())\n";
        assert_eq!(run(source).unwrap(), "[2,5]\n");
    }

    #[test]
    fn loops_break_continue_and_else() {
        let out = run("r = []\nfor i in range(6):\n    if i == 1:\n        continue\n    if i == 4:\n        break\n    r.append(i)\nelse:\n    r.append('no')\nprint(r)\n").unwrap();
        assert_eq!(out, "[0,2,3]\n");
    }

    #[test]
    fn exceptions_unwind_to_the_matching_handler_and_finally_runs() {
        let out = run("try:\n    try:\n        1 / 0\n    finally:\n        print('inner')\nexcept (KeyError, ArithmeticError) as e:\n    print(type(e) is ZeroDivisionError, str(e))\n").unwrap();
        assert_eq!(out, "\"inner\"\n[true,\"division by zero\"]\n");
        let err = run("try:\n    [][0]\nexcept KeyError:\n    pass\n").unwrap_err();
        assert_eq!(err.kind, "IndexError");
        let err = run("raise ValueError('bad')\n").unwrap_err();
        assert_eq!(err.to_string(), "t.py:1:1: ValueError: bad");
    }

    #[test]
    fn from_imports_bind_the_names_that_need_it() {
        let source = "from datetime import date, datetime as dt, timedelta\nimport datetime as d2\nfrom django.db.models import (\n    Count as C,\n    Sum,\n)\nprint(dt(2024, 1, 2, 3) + timedelta(hours=1), date(2024, 1, 2), d2.date(2024, 1, 3), 1)\n";
        assert_eq!(
            run(source).unwrap(),
            "[\"2024-01-02T04:00:00\",\"2024-01-02\",\"2024-01-03\",1]\n"
        );
    }

    #[test]
    fn models_register_before_the_first_statement_that_uses_them() {
        let source = "from django.db import models\nclass B(models.Model):\n    a = models.ForeignKey('A', on_delete=models.CASCADE)\nclass A(models.Model):\n    n = models.IntegerField(default=7)\nx = A.objects.create()\nB.objects.create(a=x)\nprint(B.objects.values_list('a__n', flat=True))\n";
        assert_eq!(run(source).unwrap(), "[7]\n");
    }
}
