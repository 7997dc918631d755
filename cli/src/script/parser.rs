//! The parser: tokens to the syntax tree of [`ast`](super::ast), by recursive descent over
//! Python's grammar with its operator precedence (lambda < if-else < or < and < not <
//! comparisons < `|` < `^` < `&` < shifts < `+ -` < `* / // % @` < unary < `**` < calls).
//!
//! Constructs outside the subset (`async`, `yield`, decorators with arguments, `match`, …) are
//! refused with "unsupported construct: …" and the position, rather than misread.

use super::ast::*;
use super::error::ScriptError;
use super::lexer::{tokenize, Tok, Token};

/// Parses a whole script.
pub fn parse(source: &str, file: &str) -> Result<Vec<Stmt>, ScriptError> {
    let tokens = tokenize(source, file)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        file: file.to_string(),
    };
    let mut body = Vec::new();
    while !parser.at(&Tok::End) {
        if parser.eat(&Tok::Newline) {
            continue;
        }
        body.extend(parser.statement()?);
    }
    Ok(body)
}

/// Parses one expression (used for f-string fields).
fn parse_expression(
    source: &str,
    file: &str,
    line: usize,
    col: usize,
) -> Result<Expr, ScriptError> {
    let tokens = tokenize(source.trim(), file).map_err(|e| relocate(e, line, col))?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        file: file.to_string(),
    };
    let expr = parser.expression().map_err(|e| relocate(e, line, col))?;
    parser.eat(&Tok::Newline);
    if !parser.at(&Tok::End) {
        return Err(ScriptError::syntax(
            file,
            line,
            col,
            "f-string: expecting '}'",
        ));
    }
    Ok(relocate_expr(expr, line, col))
}

fn relocate(mut e: ScriptError, line: usize, col: usize) -> ScriptError {
    if let Some(l) = &mut e.location {
        l.line = line;
        l.col = col;
    }
    e
}

fn relocate_expr(mut e: Expr, line: usize, col: usize) -> Expr {
    e.line = line;
    e.col = col;
    e
}

const KEYWORDS: [&str; 26] = [
    "False", "None", "True", "and", "as", "assert", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "if", "import", "in", "is", "lambda",
    "not", "or", "pass", "while",
];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    file: String,
}

impl Parser {
    fn peek(&self) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)].tok
    }

    fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    fn at_op(&self, op: &str) -> bool {
        matches!(&self.peek().tok, Tok::Op(o) if *o == op)
    }

    fn at_keyword(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Name(n) if n == word)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.at_op(op) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.at_keyword(word) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn error_here(&self, message: impl Into<String>) -> ScriptError {
        let t = self.peek();
        ScriptError::syntax(&self.file, t.line, t.col, message)
    }

    fn unsupported_here(&self, what: &str) -> ScriptError {
        self.error_here(format!("unsupported construct: {what}"))
    }

    fn describe(tok: &Tok) -> String {
        match tok {
            Tok::Name(n) => format!("'{n}'"),
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Str(_) | Tok::FStr(_) => "string".into(),
            Tok::Op(o) => format!("'{o}'"),
            Tok::Newline => "end of line".into(),
            Tok::Indent => "indent".into(),
            Tok::Dedent => "dedent".into(),
            Tok::End => "end of file".into(),
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ScriptError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.error_here(format!(
                "expected '{op}', found {}",
                Self::describe(&self.peek().tok)
            )))
        }
    }

    fn expect_name(&mut self) -> Result<String, ScriptError> {
        match &self.peek().tok {
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => {
                let n = n.clone();
                self.advance();
                Ok(n)
            }
            other => {
                Err(self.error_here(format!("expected a name, found {}", Self::describe(other))))
            }
        }
    }

    fn end_of_statement(&mut self) -> Result<(), ScriptError> {
        if self.eat(&Tok::Newline) || self.at(&Tok::End) || self.at(&Tok::Dedent) {
            return Ok(());
        }
        if self.eat_op(";") {
            return Ok(());
        }
        Err(self.error_here(format!(
            "invalid syntax: unexpected {}",
            Self::describe(&self.peek().tok)
        )))
    }

    /// A decorated `def`. `@transaction.atomic` (or `@transaction.atomic()`, `@atomic`): the
    /// function's body runs in `with transaction.atomic():`, which is what Django's
    /// decorator does on each call. `@property` / `@cached_property` on a model method: the
    /// method is read as an attribute. Other decorators are outside the subset.
    fn decorated(&mut self) -> Result<Stmt, ScriptError> {
        let at = self.peek().clone();
        self.advance();
        let decorator = self.expression()?;
        let is_atomic = |e: &Expr| match &e.kind {
            ExprKind::Attribute(module, name) => {
                name == "atomic" && matches!(&module.kind, ExprKind::Name(m) if m == "transaction")
            }
            ExprKind::Name(name) => name == "atomic",
            _ => false,
        };
        let atomic = match &decorator.kind {
            ExprKind::Call(callee, args) if args.is_empty() && is_atomic(callee) => true,
            _ => is_atomic(&decorator),
        };
        let property = match &decorator.kind {
            ExprKind::Name(name) if name == "property" => Property::Computed,
            ExprKind::Name(name) | ExprKind::Attribute(_, name) if name == "cached_property" => {
                Property::Cached
            }
            _ => Property::No,
        };
        if !atomic && property == Property::No {
            return Err(ScriptError::unsupported(
                "decorators other than @transaction.atomic and @property",
            )
            .at(&self.file, at.line, at.col));
        }
        self.end_of_statement()?;
        let start = self.peek().clone();
        if self.at_op("@") {
            return Err(self.unsupported_here("more than one decorator"));
        }
        if !self.eat_keyword("def") {
            return Err(self.error_here("expected 'def' after a decorator"));
        }
        let mut def = self.def(start.line, start.col)?;
        if let StmtKind::Def { property: kind, .. } = &mut def.kind {
            *kind = property;
        }
        if let (true, StmtKind::Def { body, .. }) = (atomic, &mut def.kind) {
            let call = Expr {
                kind: ExprKind::Call(
                    Box::new(Expr {
                        kind: ExprKind::Attribute(
                            Box::new(Expr {
                                kind: ExprKind::Name("transaction".into()),
                                line: at.line,
                                col: at.col,
                            }),
                            "atomic".into(),
                        ),
                        line: at.line,
                        col: at.col,
                    }),
                    vec![],
                ),
                line: at.line,
                col: at.col,
            };
            let inner = std::mem::take(body);
            body.push(Stmt {
                kind: StmtKind::With(vec![(call, None)], inner),
                line: at.line,
                col: at.col,
            });
        }
        Ok(def)
    }

    /// A statement; `a; b` on one line gives several.
    fn statement(&mut self) -> Result<Vec<Stmt>, ScriptError> {
        let start = self.peek().clone();
        let stmt = |kind| Stmt {
            kind,
            line: start.line,
            col: start.col,
        };
        if self.at(&Tok::Indent) {
            return Err(self.error_here("unexpected indent"));
        }
        if let Tok::Name(word) = &start.tok {
            match word.as_str() {
                "if" => {
                    self.advance();
                    return Ok(vec![self.if_statement(start.line, start.col)?]);
                }
                "for" => {
                    self.advance();
                    let target = self.target_list()?;
                    if !self.eat_keyword("in") {
                        return Err(self.error_here("expected 'in'"));
                    }
                    let iter = self.expression_list()?;
                    let body = self.block()?;
                    let orelse = if self.eat_keyword("else") {
                        self.block()?
                    } else {
                        vec![]
                    };
                    return Ok(vec![stmt(StmtKind::For(target, iter, body, orelse))]);
                }
                "while" => {
                    self.advance();
                    let cond = self.expression()?;
                    let body = self.block()?;
                    return Ok(vec![stmt(StmtKind::While(cond, body))]);
                }
                "def" => {
                    self.advance();
                    return Ok(vec![self.def(start.line, start.col)?]);
                }
                "class" => {
                    self.advance();
                    let name = self.expect_name()?;
                    let mut bases = vec![];
                    if self.eat_op("(") {
                        while !self.eat_op(")") {
                            bases.push(self.expression()?);
                            if !self.eat_op(",") {
                                self.expect_op(")")?;
                                break;
                            }
                        }
                    }
                    let body = self.block()?;
                    return Ok(vec![stmt(StmtKind::Class { name, bases, body })]);
                }
                "with" => {
                    self.advance();
                    let mut items = vec![];
                    loop {
                        let ctx = self.expression()?;
                        let target = if self.eat_keyword("as") {
                            Some(self.target()?)
                        } else {
                            None
                        };
                        items.push((ctx, target));
                        if !self.eat_op(",") {
                            break;
                        }
                    }
                    let body = self.block()?;
                    return Ok(vec![stmt(StmtKind::With(items, body))]);
                }
                "try" => {
                    self.advance();
                    return Ok(vec![self.try_statement(start.line, start.col)?]);
                }
                "async" | "await" | "yield" | "match"
                    if !matches!(self.peek_at(1), Tok::Op("=" | "." | "(" | "[")) =>
                {
                    return Err(self.unsupported_here(&format!("'{word}'")));
                }
                _ => {}
            }
        }
        if self.at_op("@") {
            return Ok(vec![self.decorated()?]);
        }
        let mut out = vec![self.simple_statement()?];
        while self.at_op(";") {
            self.advance();
            if self.at(&Tok::Newline) || self.at(&Tok::End) {
                break;
            }
            out.push(self.simple_statement()?);
        }
        self.end_of_statement()?;
        Ok(out)
    }

    fn simple_statement(&mut self) -> Result<Stmt, ScriptError> {
        let start = self.peek().clone();
        let stmt = |kind| Stmt {
            kind,
            line: start.line,
            col: start.col,
        };
        if let Tok::Name(word) = &start.tok {
            match word.as_str() {
                "pass" => {
                    self.advance();
                    return Ok(stmt(StmtKind::Pass));
                }
                "break" => {
                    self.advance();
                    return Ok(stmt(StmtKind::Break));
                }
                "continue" => {
                    self.advance();
                    return Ok(stmt(StmtKind::Continue));
                }
                "return" => {
                    self.advance();
                    let value = if self.at_statement_end() {
                        None
                    } else {
                        Some(self.expression_list()?)
                    };
                    return Ok(stmt(StmtKind::Return(value)));
                }
                "raise" => {
                    self.advance();
                    let value = if self.at_statement_end() {
                        None
                    } else {
                        Some(self.expression()?)
                    };
                    if self.eat_keyword("from") {
                        self.expression()?;
                    }
                    return Ok(stmt(StmtKind::Raise(value)));
                }
                "assert" => {
                    self.advance();
                    let cond = self.expression()?;
                    let message = if self.eat_op(",") {
                        Some(self.expression()?)
                    } else {
                        None
                    };
                    return Ok(stmt(StmtKind::Assert(cond, message)));
                }
                "import" | "from" => return self.import(stmt),
                "global" | "nonlocal" => {
                    let global = word == "global";
                    self.advance();
                    let mut names = vec![self.expect_name()?];
                    while self.eat_op(",") {
                        names.push(self.expect_name()?);
                    }
                    return Ok(stmt(StmtKind::Global(names, global)));
                }
                "del" => {
                    self.advance();
                    let targets = match self.expression_list()? {
                        Expr {
                            kind: ExprKind::Tuple(items),
                            ..
                        } => items,
                        one => vec![one],
                    };
                    return Ok(stmt(StmtKind::Del(targets)));
                }
                _ => {}
            }
        }
        let first = self.expression_list()?;
        if self.at_op("=") {
            let mut targets = vec![first];
            let mut value;
            loop {
                self.advance();
                value = self.expression_list()?;
                if !self.at_op("=") {
                    break;
                }
                targets.push(value);
            }
            for t in &targets {
                self.check_target(t)?;
            }
            return Ok(stmt(StmtKind::Assign(targets, value)));
        }
        if let Tok::Op(op) = self.peek().tok.clone() {
            if op.len() >= 2 && op.ends_with('=') && !matches!(op, "==" | "!=" | "<=" | ">=") {
                self.advance();
                self.check_target(&first)?;
                let value = self.expression_list()?;
                let binary: &'static str = &op[..op.len() - 1];
                return Ok(stmt(StmtKind::AugAssign(first, binary, value)));
            }
            if op == ":" {
                return Err(self.unsupported_here("variable annotations"));
            }
        }
        Ok(stmt(StmtKind::Expr(first)))
    }

    /// `import a.b as c, d` or `from a.b import (c as d, e)`.
    fn import(&mut self, stmt: impl Fn(StmtKind) -> Stmt) -> Result<Stmt, ScriptError> {
        let from = self.advance().tok == Tok::Name("from".into());
        let dotted = |p: &mut Parser| -> Result<String, ScriptError> {
            let mut path = String::new();
            while p.eat_op(".") {
                path.push('.');
            }
            if !p.at_keyword("import") {
                path.push_str(&p.expect_name()?);
                while p.eat_op(".") {
                    path.push('.');
                    path.push_str(&p.expect_name()?);
                }
            }
            Ok(path)
        };
        let mut names = vec![];
        if !from {
            loop {
                let path = dotted(self)?;
                let bound = if self.eat_keyword("as") {
                    self.expect_name()?
                } else {
                    path.split('.').next().unwrap_or(&path).to_string()
                };
                names.push((String::new(), path.clone(), bound));
                if !self.eat_op(",") {
                    break;
                }
            }
            return Ok(stmt(StmtKind::Import(names)));
        }
        let module = dotted(self)?;
        if !self.eat_keyword("import") {
            return Err(self.error_here("expected 'import'"));
        }
        let parenthesized = self.eat_op("(");
        if self.eat_op("*") {
            names.push((module, "*".into(), "*".into()));
            return Ok(stmt(StmtKind::Import(names)));
        }
        loop {
            if parenthesized && self.at_op(")") {
                break;
            }
            let name = self.expect_name()?;
            let bound = if self.eat_keyword("as") {
                self.expect_name()?
            } else {
                name.clone()
            };
            names.push((module.clone(), name, bound));
            if !self.eat_op(",") {
                break;
            }
        }
        if parenthesized {
            self.expect_op(")")?;
        }
        Ok(stmt(StmtKind::Import(names)))
    }

    fn at_statement_end(&self) -> bool {
        matches!(
            self.peek().tok,
            Tok::Newline | Tok::End | Tok::Dedent | Tok::Op(";")
        )
    }

    fn check_target(&self, target: &Expr) -> Result<(), ScriptError> {
        match &target.kind {
            ExprKind::Name(_) | ExprKind::Attribute(..) | ExprKind::Subscript(..) => Ok(()),
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                let starred = items
                    .iter()
                    .filter(|i| matches!(i.kind, ExprKind::Starred(_)))
                    .count();
                if starred > 1 {
                    return Err(ScriptError::syntax(
                        &self.file,
                        target.line,
                        target.col,
                        "multiple starred expressions in assignment",
                    ));
                }
                items.iter().try_for_each(|i| match &i.kind {
                    ExprKind::Starred(inner) => self.check_target(inner),
                    _ => self.check_target(i),
                })
            }
            _ => Err(ScriptError::syntax(
                &self.file,
                target.line,
                target.col,
                "cannot assign to expression",
            )),
        }
    }

    fn if_statement(&mut self, line: usize, col: usize) -> Result<Stmt, ScriptError> {
        let cond = self.expression()?;
        let body = self.block()?;
        let orelse = if self.at_keyword("elif") {
            let t = self.advance();
            vec![self.if_statement(t.line, t.col)?]
        } else if self.eat_keyword("else") {
            self.block()?
        } else {
            vec![]
        };
        Ok(Stmt {
            kind: StmtKind::If(cond, body, orelse),
            line,
            col,
        })
    }

    fn try_statement(&mut self, line: usize, col: usize) -> Result<Stmt, ScriptError> {
        let body = self.block()?;
        let mut handlers = vec![];
        while self.eat_keyword("except") {
            if self.at_op("*") {
                return Err(self.unsupported_here("except*"));
            }
            let classes = if self.at_op(":") {
                None
            } else {
                Some(self.expression()?)
            };
            let name = if self.eat_keyword("as") {
                Some(self.expect_name()?)
            } else {
                None
            };
            let body = self.block()?;
            handlers.push(Handler {
                classes,
                name,
                body,
            });
        }
        let orelse = if self.eat_keyword("else") {
            self.block()?
        } else {
            vec![]
        };
        let finally = if self.eat_keyword("finally") {
            self.block()?
        } else {
            vec![]
        };
        if handlers.is_empty() && finally.is_empty() {
            return Err(self.error_here("expected 'except' or 'finally' block"));
        }
        Ok(Stmt {
            kind: StmtKind::Try {
                body,
                handlers,
                orelse,
                finally,
            },
            line,
            col,
        })
    }

    fn def(&mut self, line: usize, col: usize) -> Result<Stmt, ScriptError> {
        let name = self.expect_name()?;
        self.expect_op("(")?;
        let params = self.params(")")?;
        if self.eat_op("->") {
            self.expression()?;
        }
        let body = self.block()?;
        Ok(Stmt {
            kind: StmtKind::Def {
                name,
                params,
                body,
                property: Property::No,
            },
            line,
            col,
        })
    }

    /// Parameters up to (and including) `close`.
    fn params(&mut self, close: &str) -> Result<Vec<Param>, ScriptError> {
        let mut params = vec![];
        while !self.eat_op(close) {
            let star = if self.eat_op("**") {
                2
            } else if self.eat_op("*") {
                1
            } else {
                0
            };
            if self.eat_op("/") || (star == 1 && self.at_op(",")) {
                self.eat_op(",");
                continue;
            }
            let name = self.expect_name()?;
            if close == ")" && self.eat_op(":") {
                self.expression()?;
            }
            let default = if self.eat_op("=") {
                Some(self.expression()?)
            } else {
                None
            };
            params.push(Param {
                name,
                default,
                star,
            });
            if !self.eat_op(",") {
                self.expect_op(close)?;
                break;
            }
        }
        Ok(params)
    }

    /// `:` then either a simple statement on the same line or an indented block.
    fn block(&mut self) -> Result<Vec<Stmt>, ScriptError> {
        self.expect_op(":")?;
        if !self.eat(&Tok::Newline) {
            return self.statement();
        }
        if !self.eat(&Tok::Indent) {
            return Err(self.error_here("expected an indented block"));
        }
        let mut body = vec![];
        while !self.eat(&Tok::Dedent) && !self.at(&Tok::End) {
            if self.eat(&Tok::Newline) {
                continue;
            }
            body.extend(self.statement()?);
        }
        Ok(body)
    }

    fn target(&mut self) -> Result<Expr, ScriptError> {
        let t = self.or_expr()?;
        self.check_target(&t)?;
        Ok(t)
    }

    /// `a, b` as an assignment/for target.
    fn target_list(&mut self) -> Result<Expr, ScriptError> {
        let start = self.peek().clone();
        let first = self.target()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_keyword("in") || self.at_op("=") {
                break;
            }
            items.push(self.target()?);
        }
        Ok(Expr {
            kind: ExprKind::Tuple(items),
            line: start.line,
            col: start.col,
        })
    }

    /// `a, b, c` (a tuple when there is a comma).
    fn expression_list(&mut self) -> Result<Expr, ScriptError> {
        let start = self.peek().clone();
        let first = self.star_or_expression()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_statement_end() || self.at_op("=") || self.at_op(")") {
                break;
            }
            items.push(self.star_or_expression()?);
        }
        Ok(Expr {
            kind: ExprKind::Tuple(items),
            line: start.line,
            col: start.col,
        })
    }

    fn star_or_expression(&mut self) -> Result<Expr, ScriptError> {
        let start = self.peek().clone();
        if self.eat_op("*") {
            let inner = self.expression()?;
            return Ok(Expr {
                kind: ExprKind::Starred(Box::new(inner)),
                line: start.line,
                col: start.col,
            });
        }
        self.expression()
    }

    fn expression(&mut self) -> Result<Expr, ScriptError> {
        let start = self.peek().clone();
        if self.eat_keyword("lambda") {
            let params = self.params(":")?;
            let body = self.expression()?;
            return Ok(Expr {
                kind: ExprKind::Lambda(params, Box::new(body)),
                line: start.line,
                col: start.col,
            });
        }
        if self.at_keyword("yield") || self.at_keyword("await") {
            return Err(self.unsupported_here(&format!("'{}'", Self::name_of(&start.tok))));
        }
        let value = self.or_test()?;
        if self.at_op(":=") {
            return Err(self.unsupported_here("assignment expressions (:=)"));
        }
        if self.eat_keyword("if") {
            let cond = self.or_test()?;
            if !self.eat_keyword("else") {
                return Err(self.error_here("expected 'else' after 'if' expression"));
            }
            let other = self.expression()?;
            return Ok(Expr {
                kind: ExprKind::IfElse(Box::new(cond), Box::new(value), Box::new(other)),
                line: start.line,
                col: start.col,
            });
        }
        Ok(value)
    }

    fn name_of(tok: &Tok) -> String {
        match tok {
            Tok::Name(n) => n.clone(),
            other => Self::describe(other),
        }
    }

    fn or_test(&mut self) -> Result<Expr, ScriptError> {
        let mut left = self.and_test()?;
        while self.at_keyword("or") {
            let t = self.advance();
            let right = self.and_test()?;
            left = Expr {
                kind: ExprKind::BoolOp("or", Box::new(left), Box::new(right)),
                line: t.line,
                col: t.col,
            };
        }
        Ok(left)
    }

    fn and_test(&mut self) -> Result<Expr, ScriptError> {
        let mut left = self.not_test()?;
        while self.at_keyword("and") {
            let t = self.advance();
            let right = self.not_test()?;
            left = Expr {
                kind: ExprKind::BoolOp("and", Box::new(left), Box::new(right)),
                line: t.line,
                col: t.col,
            };
        }
        Ok(left)
    }

    fn not_test(&mut self) -> Result<Expr, ScriptError> {
        if self.at_keyword("not") {
            let t = self.advance();
            let operand = self.not_test()?;
            return Ok(Expr {
                kind: ExprKind::Unary("not", Box::new(operand)),
                line: t.line,
                col: t.col,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ScriptError> {
        let left = self.or_expr()?;
        let mut ops = vec![];
        loop {
            let op: &'static str = match &self.peek().tok {
                Tok::Op(o @ ("<" | ">" | "==" | ">=" | "<=" | "!=")) => o,
                Tok::Name(n) if n == "in" => "in",
                Tok::Name(n)
                    if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") =>
                {
                    self.advance();
                    "not in"
                }
                Tok::Name(n) if n == "is" => {
                    if matches!(self.peek_at(1), Tok::Name(m) if m == "not") {
                        self.advance();
                        "is not"
                    } else {
                        "is"
                    }
                }
                _ => break,
            };
            self.advance();
            ops.push((op, self.or_expr()?));
        }
        if ops.is_empty() {
            return Ok(left);
        }
        let (line, col) = (left.line, left.col);
        Ok(Expr {
            kind: ExprKind::Compare(Box::new(left), ops),
            line,
            col,
        })
    }

    fn binary_level(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Parser) -> Result<Expr, ScriptError>,
    ) -> Result<Expr, ScriptError> {
        let mut left = next(self)?;
        loop {
            let op = match &self.peek().tok {
                Tok::Op(o) => ops.iter().find(|x| *x == o).copied(),
                _ => None,
            };
            let Some(op) = op else { break };
            self.advance();
            let right = next(self)?;
            let (line, col) = (left.line, left.col);
            left = Expr {
                kind: ExprKind::Binary(Box::new(left), op, Box::new(right)),
                line,
                col,
            };
        }
        Ok(left)
    }

    fn or_expr(&mut self) -> Result<Expr, ScriptError> {
        self.binary_level(&["|"], Parser::xor_expr)
    }

    fn xor_expr(&mut self) -> Result<Expr, ScriptError> {
        self.binary_level(&["^"], Parser::and_expr)
    }

    fn and_expr(&mut self) -> Result<Expr, ScriptError> {
        self.binary_level(&["&"], Parser::shift_expr)
    }

    fn shift_expr(&mut self) -> Result<Expr, ScriptError> {
        self.binary_level(&["<<", ">>"], Parser::arith_expr)
    }

    fn arith_expr(&mut self) -> Result<Expr, ScriptError> {
        self.binary_level(&["+", "-"], Parser::term)
    }

    fn term(&mut self) -> Result<Expr, ScriptError> {
        self.binary_level(&["*", "/", "//", "%", "@"], Parser::factor)
    }

    fn factor(&mut self) -> Result<Expr, ScriptError> {
        let t = self.peek().clone();
        let op: Option<&'static str> = match &t.tok {
            Tok::Op("-") => Some("-"),
            Tok::Op("+") => Some("+"),
            Tok::Op("~") => Some("~"),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let operand = self.factor()?;
            // Fold negative literals so that `-1` is a constant (slices, defaults).
            let kind = match (op, &operand.kind) {
                ("-", ExprKind::Int(i)) => ExprKind::Int(-i),
                ("-", ExprKind::Float(f)) => ExprKind::Float(-f),
                _ => ExprKind::Unary(op, Box::new(operand)),
            };
            return Ok(Expr {
                kind,
                line: t.line,
                col: t.col,
            });
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ScriptError> {
        let base = self.postfix()?;
        if self.eat_op("**") {
            let exponent = self.factor()?;
            let (line, col) = (base.line, base.col);
            return Ok(Expr {
                kind: ExprKind::Binary(Box::new(base), "**", Box::new(exponent)),
                line,
                col,
            });
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, ScriptError> {
        let mut expr = self.atom()?;
        loop {
            let t = self.peek().clone();
            if self.eat_op(".") {
                let name = match self.advance().tok {
                    Tok::Name(n) => n,
                    other => {
                        return Err(ScriptError::syntax(
                            &self.file,
                            t.line,
                            t.col + 1,
                            format!(
                                "expected an attribute name, found {}",
                                Self::describe(&other)
                            ),
                        ))
                    }
                };
                expr = Expr {
                    kind: ExprKind::Attribute(Box::new(expr), name),
                    line: t.line,
                    col: t.col + 1,
                };
            } else if self.eat_op("(") {
                let args = self.call_args()?;
                // A call is reported where its callee's name is (`qs.count()` at `count`).
                let (line, col) = (expr.line, expr.col);
                expr = Expr {
                    kind: ExprKind::Call(Box::new(expr), args),
                    line,
                    col,
                };
            } else if self.eat_op("[") {
                let index = self.subscript()?;
                self.expect_op("]")?;
                expr = Expr {
                    kind: ExprKind::Subscript(Box::new(expr), Box::new(index)),
                    line: t.line,
                    col: t.col,
                };
            } else {
                return Ok(expr);
            }
        }
    }

    fn call_args(&mut self) -> Result<Vec<Arg>, ScriptError> {
        let mut args = vec![];
        while !self.eat_op(")") {
            if self.eat_op("**") {
                args.push(Arg::DoubleStar(self.expression()?));
            } else if self.eat_op("*") {
                args.push(Arg::Star(self.expression()?));
            } else if matches!(self.peek().tok, Tok::Name(_))
                && matches!(self.peek_at(1), Tok::Op("="))
            {
                let name = self.expect_name()?;
                self.advance();
                args.push(Arg::Keyword(name, self.expression()?));
            } else {
                let value = self.expression()?;
                if self.at_keyword("for") {
                    let generators = self.comprehension()?;
                    let (line, col) = (value.line, value.col);
                    args.push(Arg::Positional(Expr {
                        kind: ExprKind::ListComp(Box::new(value), generators),
                        line,
                        col,
                    }));
                } else {
                    args.push(Arg::Positional(value));
                }
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok(args)
    }

    fn subscript(&mut self) -> Result<Expr, ScriptError> {
        let start = self.peek().clone();
        let mut parts: Vec<Option<Box<Expr>>> = vec![];
        let mut current = None;
        let mut is_slice = false;
        loop {
            if self.at_op(":") {
                self.advance();
                is_slice = true;
                parts.push(current.take());
                continue;
            }
            if self.at_op("]") {
                break;
            }
            if self.at_op(",") {
                return Err(self.unsupported_here("multi-dimensional subscripts"));
            }
            current = Some(Box::new(self.expression()?));
        }
        if !is_slice {
            return current
                .map(|b| *b)
                .ok_or_else(|| self.error_here("expected an index"));
        }
        parts.push(current);
        if parts.len() > 3 {
            return Err(self.error_here("invalid slice"));
        }
        parts.resize(3, None);
        let mut it = parts.into_iter();
        Ok(Expr {
            kind: ExprKind::Slice(
                it.next().flatten(),
                it.next().flatten(),
                it.next().flatten(),
            ),
            line: start.line,
            col: start.col,
        })
    }

    fn comprehension(&mut self) -> Result<Vec<Comprehension>, ScriptError> {
        let mut generators = vec![];
        while self.eat_keyword("for") {
            let target = self.target_list()?;
            if !self.eat_keyword("in") {
                return Err(self.error_here("expected 'in'"));
            }
            let iter = self.or_test()?;
            let mut conditions = vec![];
            while self.eat_keyword("if") {
                conditions.push(self.or_test()?);
            }
            generators.push(Comprehension {
                target,
                iter,
                conditions,
            });
        }
        Ok(generators)
    }

    fn atom(&mut self) -> Result<Expr, ScriptError> {
        let t = self.advance();
        let expr = |kind| Expr {
            kind,
            line: t.line,
            col: t.col,
        };
        Ok(match &t.tok {
            Tok::Int(i) => expr(ExprKind::Int(*i)),
            Tok::Float(f) => expr(ExprKind::Float(*f)),
            Tok::Str(s) => {
                let mut text = s.clone();
                let mut parts: Option<Vec<FPart>> = None;
                // Adjacent literals concatenate ("a" "b", also with f-strings).
                loop {
                    match self.peek().tok.clone() {
                        Tok::Str(more) => {
                            self.advance();
                            match &mut parts {
                                Some(p) => p.push(FPart::Text(more)),
                                None => text.push_str(&more),
                            }
                        }
                        Tok::FStr(more) => {
                            let ft = self.advance();
                            let p = parts.get_or_insert_with(|| vec![FPart::Text(text.clone())]);
                            p.extend(self.fstring(&more, ft.line, ft.col)?);
                        }
                        _ => break,
                    }
                }
                match parts {
                    Some(p) => expr(ExprKind::FString(p)),
                    None => expr(ExprKind::Str(text)),
                }
            }
            Tok::FStr(s) => {
                let mut parts = self.fstring(s, t.line, t.col)?;
                loop {
                    match self.peek().tok.clone() {
                        Tok::Str(more) => {
                            self.advance();
                            parts.push(FPart::Text(more));
                        }
                        Tok::FStr(more) => {
                            let ft = self.advance();
                            parts.extend(self.fstring(&more, ft.line, ft.col)?);
                        }
                        _ => break,
                    }
                }
                expr(ExprKind::FString(parts))
            }
            Tok::Name(n) => match n.as_str() {
                "None" => expr(ExprKind::None),
                "True" => expr(ExprKind::Bool(true)),
                "False" => expr(ExprKind::Bool(false)),
                "yield" | "await" | "async" => {
                    return Err(ScriptError::syntax(
                        &self.file,
                        t.line,
                        t.col,
                        format!("unsupported construct: '{n}'"),
                    ))
                }
                k if KEYWORDS.contains(&k) => {
                    return Err(ScriptError::syntax(
                        &self.file,
                        t.line,
                        t.col,
                        format!("invalid syntax: unexpected '{k}'"),
                    ))
                }
                _ => expr(ExprKind::Name(n.clone())),
            },
            Tok::Op("(") => {
                if self.eat_op(")") {
                    return Ok(expr(ExprKind::Tuple(vec![])));
                }
                let first = self.star_or_expression()?;
                if self.at_keyword("for") {
                    let generators = self.comprehension()?;
                    self.expect_op(")")?;
                    return Ok(expr(ExprKind::ListComp(Box::new(first), generators)));
                }
                if self.eat_op(")") {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.at_op(")") {
                        break;
                    }
                    items.push(self.star_or_expression()?);
                }
                self.expect_op(")")?;
                expr(ExprKind::Tuple(items))
            }
            Tok::Op("[") => {
                if self.eat_op("]") {
                    return Ok(expr(ExprKind::List(vec![])));
                }
                let first = self.star_or_expression()?;
                if self.at_keyword("for") {
                    let generators = self.comprehension()?;
                    self.expect_op("]")?;
                    return Ok(expr(ExprKind::ListComp(Box::new(first), generators)));
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.at_op("]") {
                        break;
                    }
                    items.push(self.star_or_expression()?);
                }
                self.expect_op("]")?;
                expr(ExprKind::List(items))
            }
            Tok::Op("{") => {
                if self.eat_op("}") {
                    return Ok(expr(ExprKind::Dict(vec![])));
                }
                if self.at_op("**") {
                    return Err(self.unsupported_here("dict unpacking (**)"));
                }
                let first = self.star_or_expression()?;
                if !matches!(first.kind, ExprKind::Starred(_)) && self.eat_op(":") {
                    let value = self.expression()?;
                    if self.at_keyword("for") {
                        let generators = self.comprehension()?;
                        self.expect_op("}")?;
                        return Ok(expr(ExprKind::DictComp(
                            Box::new(first),
                            Box::new(value),
                            generators,
                        )));
                    }
                    let mut pairs = vec![(first, value)];
                    while self.eat_op(",") {
                        if self.at_op("}") {
                            break;
                        }
                        let k = self.expression()?;
                        self.expect_op(":")?;
                        let v = self.expression()?;
                        pairs.push((k, v));
                    }
                    self.expect_op("}")?;
                    expr(ExprKind::Dict(pairs))
                } else {
                    if self.at_keyword("for") {
                        let generators = self.comprehension()?;
                        self.expect_op("}")?;
                        return Ok(expr(ExprKind::SetComp(Box::new(first), generators)));
                    }
                    let mut items = vec![first];
                    while self.eat_op(",") {
                        if self.at_op("}") {
                            break;
                        }
                        items.push(self.star_or_expression()?);
                    }
                    self.expect_op("}")?;
                    expr(ExprKind::Set(items))
                }
            }
            Tok::Op("...") => expr(ExprKind::None),
            other => {
                return Err(ScriptError::syntax(
                    &self.file,
                    t.line,
                    t.col,
                    format!("invalid syntax: unexpected {}", Self::describe(other)),
                ))
            }
        })
    }

    /// Splits f-string text into literal parts and `{expr!r:spec}` fields.
    fn fstring(&self, text: &str, line: usize, col: usize) -> Result<Vec<FPart>, ScriptError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parts = vec![];
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '{' && chars.get(i + 1) == Some(&'{') {
                literal.push('{');
                i += 2;
                continue;
            }
            if c == '}' && chars.get(i + 1) == Some(&'}') {
                literal.push('}');
                i += 2;
                continue;
            }
            if c != '{' {
                literal.push(c);
                i += 1;
                continue;
            }
            if !literal.is_empty() {
                parts.push(FPart::Text(std::mem::take(&mut literal)));
            }
            // Find the field's end, respecting nested brackets and strings.
            let mut depth = 0;
            let mut j = i + 1;
            let mut quote: Option<char> = None;
            let mut expr_end = None;
            let mut conversion = None;
            while j < chars.len() {
                let d = chars[j];
                if let Some(q) = quote {
                    if d == q {
                        quote = None;
                    }
                } else if d == '\'' || d == '"' {
                    quote = Some(d);
                } else if "([{".contains(d) {
                    depth += 1;
                } else if ")]".contains(d) || (d == '}' && depth > 0) {
                    depth -= 1;
                } else if depth == 0
                    && (d == '}' || d == ':' || (d == '!' && chars.get(j + 1) != Some(&'=')))
                {
                    break;
                }
                j += 1;
            }
            let expr_text: String = chars[i + 1..j.min(chars.len())].iter().collect();
            let mut spec = String::new();
            if j < chars.len() && chars[j] == '!' {
                conversion = chars.get(j + 1).copied();
                j += 2;
            }
            if j < chars.len() && chars[j] == ':' {
                j += 1;
                while j < chars.len() && chars[j] != '}' {
                    spec.push(chars[j]);
                    j += 1;
                }
            }
            if j >= chars.len() {
                return Err(ScriptError::syntax(
                    &self.file,
                    line,
                    col,
                    "f-string: expecting '}'",
                ));
            }
            expr_end.get_or_insert(j);
            let (expr_text, debug) = match expr_text.trim_end().strip_suffix('=') {
                Some(e) if !e.ends_with(['=', '!', '<', '>']) => (e.to_string(), true),
                _ => (expr_text, false),
            };
            if debug {
                parts.push(FPart::Text(format!("{expr_text}=")));
            }
            let expr = parse_expression(&expr_text, &self.file, line, col)?;
            parts.push(FPart::Field {
                expr,
                conversion: conversion.or(if debug && spec.is_empty() {
                    Some('r')
                } else {
                    None
                }),
                spec,
            });
            i = j + 1;
        }
        if !literal.is_empty() {
            parts.push(FPart::Text(literal));
        }
        Ok(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(source: &str) -> String {
        parse(source, "t.py").unwrap_err().to_string()
    }

    #[test]
    fn parses_classes_calls_and_blocks() {
        let body = parse(
            "class A(models.Model):\n    name = models.CharField(max_length=10)\n    class Meta:\n        ordering = ['name']\n\nfor a, b in x:\n    print(a if b else -1, k=2)\n",
            "t.py",
        )
        .unwrap();
        assert_eq!(body.len(), 2);
        let StmtKind::Class {
            name,
            body: class_body,
            ..
        } = &body[0].kind
        else {
            panic!("not a class")
        };
        assert_eq!(name, "A");
        assert_eq!(class_body.len(), 2);
        assert!(
            matches!(&body[1].kind, StmtKind::For(t, _, _, _) if matches!(t.kind, ExprKind::Tuple(_)))
        );
    }

    #[test]
    fn operator_precedence_follows_python() {
        let body = parse("x = 1 + 2 * 3 ** 2\n", "t.py").unwrap();
        let StmtKind::Assign(_, value) = &body[0].kind else {
            panic!()
        };
        let ExprKind::Binary(_, "+", right) = &value.kind else {
            panic!("{value:?}")
        };
        assert!(matches!(&right.kind, ExprKind::Binary(_, "*", _)));
    }

    #[test]
    fn fstrings_split_into_fields() {
        let body = parse("f'{a!r:>5} and {b.c}{{x}}'\n", "t.py").unwrap();
        let StmtKind::Expr(Expr {
            kind: ExprKind::FString(parts),
            ..
        }) = &body[0].kind
        else {
            panic!()
        };
        assert_eq!(parts.len(), 4);
        assert!(
            matches!(&parts[0], FPart::Field { conversion: Some('r'), spec, .. } if spec == ">5")
        );
        assert_eq!(parts[3], FPart::Text("{x}".into()));
    }

    #[test]
    fn errors_name_position_and_construct() {
        assert_eq!(
            err("x = (1,\n"),
            "t.py:1:5: SyntaxError: '(' was never closed"
        );
        assert_eq!(
            err("print(1 2)\n"),
            "t.py:1:9: SyntaxError: expected ')', found 2"
        );
        assert_eq!(
            err("async def f():\n    pass\n"),
            "t.py:1:1: SyntaxError: unsupported construct: 'async'"
        );
        assert_eq!(
            err("@decorator\ndef f(): pass\n"),
            "t.py:1:1: SyntaxError: unsupported construct: decorators other than @transaction.atomic and @property"
        );
        assert_eq!(
            err("x: int = 3\n"),
            "t.py:1:2: SyntaxError: unsupported construct: variable annotations"
        );
        assert_eq!(
            err("if x:\npass\n"),
            "t.py:2:1: SyntaxError: expected an indented block"
        );
        assert_eq!(
            err("1 = x\n"),
            "t.py:1:1: SyntaxError: cannot assign to expression"
        );
        assert_eq!(err("  x = 1\n"), "t.py:1:3: SyntaxError: unexpected indent");
    }
}
