//! The syntax tree of a script: the statements and expressions of the supported Python
//! subset, each expression with the position it starts at (for error messages).

/// An expression and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub line: usize,
    pub col: usize,
}

/// One part of an f-string.
#[derive(Debug, Clone, PartialEq)]
pub enum FPart {
    Text(String),
    /// `{expr!conversion:spec}`.
    Field {
        expr: Expr,
        conversion: Option<char>,
        spec: String,
    },
}

/// A call argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Positional(Expr),
    Keyword(String, Expr),
    /// `*args`.
    Star(Expr),
    /// `**kwargs`.
    DoubleStar(Expr),
}

/// A comprehension's `for target in iter if cond…` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Comprehension {
    pub target: Expr,
    pub iter: Expr,
    pub conditions: Vec<Expr>,
}

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Name(String),
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    FString(Vec<FPart>),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    /// `[elt for …]`, also `(elt for …)` (evaluated eagerly as a list).
    ListComp(Box<Expr>, Vec<Comprehension>),
    SetComp(Box<Expr>, Vec<Comprehension>),
    DictComp(Box<Expr>, Box<Expr>, Vec<Comprehension>),
    Attribute(Box<Expr>, String),
    Subscript(Box<Expr>, Box<Expr>),
    /// `a:b:c` inside a subscript.
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    Call(Box<Expr>, Vec<Arg>),
    /// `+ - * / // % ** & | ^ << >> @`.
    Binary(Box<Expr>, &'static str, Box<Expr>),
    /// `-x`, `+x`, `~x`, `not x`.
    Unary(&'static str, Box<Expr>),
    /// `and` / `or`.
    BoolOp(&'static str, Box<Expr>, Box<Expr>),
    /// `a < b <= c`: operators are `<`, `in`, `not in`, `is`, `is not`, ….
    Compare(Box<Expr>, Vec<(&'static str, Expr)>),
    /// `a if cond else b`.
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
    Lambda(Vec<Param>, Box<Expr>),
    /// `*items` in a list, tuple or set display, or an assignment target (`a, *rest = …`).
    Starred(Box<Expr>),
}

/// A function parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub default: Option<Expr>,
    /// `*args` (1) or `**kwargs` (2).
    pub star: u8,
}

/// A `except Class as name:` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    pub classes: Option<Expr>,
    pub name: Option<String>,
    pub body: Vec<Stmt>,
}

/// A statement and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub line: usize,
    pub col: usize,
}

/// How a method is read as an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// A plain function or method.
    No,
    /// `@property`: computed on every read.
    Computed,
    /// `@cached_property`: computed on the first read, then kept in the object's `__dict__`.
    Cached,
}

/// Statement kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    Expr(Expr),
    /// `a = b = value`.
    Assign(Vec<Expr>, Expr),
    /// `a += value`.
    AugAssign(Expr, &'static str, Expr),
    /// Class body statements; methods are kept as `Def`.
    Class {
        name: String,
        bases: Vec<Expr>,
        body: Vec<Stmt>,
    },
    Def {
        name: String,
        params: Vec<Param>,
        body: Vec<Stmt>,
        /// `@property` / `@cached_property` (a model method read as an attribute).
        property: Property,
    },
    Return(Option<Expr>),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    For(Expr, Expr, Vec<Stmt>, Vec<Stmt>),
    While(Expr, Vec<Stmt>),
    With(Vec<(Expr, Option<Expr>)>, Vec<Stmt>),
    Try {
        body: Vec<Stmt>,
        handlers: Vec<Handler>,
        orelse: Vec<Stmt>,
        finally: Vec<Stmt>,
    },
    Raise(Option<Expr>),
    Assert(Expr, Option<Expr>),
    /// `import a.b as c` / `from x import y as z`: `(module, name, bound as)` per name
    /// (`("", a.b, c)` for a plain import, name `*` for `from x import *`). Library imports
    /// bind only what the script could not otherwise tell apart (`from datetime import
    /// datetime`); a sibling file (`from .models import *`) is run once.
    Import(Vec<(String, String, String)>),
    Pass,
    Break,
    Continue,
    Del(Vec<Expr>),
    /// `global a, b` (`nonlocal` when the flag is false).
    Global(Vec<String>, bool),
}
