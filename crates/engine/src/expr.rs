//! Expressions for conditions and variable assignments, evaluated by the `evalexpr` crate.
//!
//! The language is evalexpr's: `size == "large" && count > 2`, arithmetic, string
//! concatenation with `+`, `if(cond, a, b)`, `str::to_lowercase(x)`, `len(x)`, … Variables are
//! the session's variables (frame-local first, then global) and `event.<key>` for the data of
//! the current event. A variable that is not set evaluates to `()`, evalexpr's empty value, so
//! `name == ()` tests for "not set". Expressions are parsed once, when the agent loads.

use evalexpr::{Context, DefaultNumericTypes, EvalexprError, EvalexprResult, Node};
use serde_json::{Number, Value};

type EValue = evalexpr::Value<DefaultNumericTypes>;

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    tree: Node<DefaultNumericTypes>,
    variables: Vec<String>,
}

/// An expression that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid expression `{expression}`: {message}")]
pub struct ExprSyntaxError {
    /// The expression as written.
    pub expression: String,
    /// The parser's explanation.
    pub message: String,
}

/// An expression that failed while evaluating (a type mismatch, a division by zero, …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("expression `{expression}` failed: {message}")]
pub struct ExprEvalError {
    /// The expression as written.
    pub expression: String,
    /// The evaluator's explanation.
    pub message: String,
}

impl Expr {
    /// Parses an expression.
    ///
    /// ```
    /// use turnstile_engine::Expr;
    /// use serde_json::json;
    /// let e = Expr::parse(r#"size == "large" && event.qty > 1"#).unwrap();
    /// let vars = json!({"size": "large", "event.qty": 2});
    /// assert_eq!(e.eval_bool(|name| vars.get(name)).unwrap(), true);
    /// assert!(Expr::parse("(1 + 2").is_err());
    /// assert!(Expr::parse("1 +* 2").is_err());
    /// assert!(Expr::parse("!").is_err());
    /// ```
    pub fn parse(source: &str) -> Result<Expr, ExprSyntaxError> {
        let syntax_error = |message: String| ExprSyntaxError {
            expression: source.to_owned(),
            message,
        };
        let tree = evalexpr::build_operator_tree::<DefaultNumericTypes>(source)
            .map_err(|e| syntax_error(e.to_string()))?;
        check_operands(&tree).map_err(syntax_error)?;
        let mut variables: Vec<String> = tree
            .iter_variable_identifiers()
            .map(str::to_owned)
            .collect();
        variables.sort();
        variables.dedup();
        Ok(Expr {
            source: source.to_owned(),
            tree,
            variables,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables the expression reads.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Evaluates to a JSON value (`()` becomes `null`).
    pub fn eval<'v>(
        &self,
        lookup: impl Fn(&str) -> Option<&'v Value>,
    ) -> Result<Value, ExprEvalError> {
        let context = Variables {
            values: self
                .variables
                .iter()
                .map(|name| {
                    (
                        name.as_str(),
                        lookup(name).map_or(EValue::Empty, to_evalexpr),
                    )
                })
                .collect(),
        };
        self.tree
            .eval_with_context(&context)
            .map(|v| from_evalexpr(&v))
            .map_err(|e| self.eval_error(e))
    }

    /// Evaluates a condition. Besides booleans, a non-empty string or a non-zero number is true
    /// and `()` is false.
    pub fn eval_bool<'v>(
        &self,
        lookup: impl Fn(&str) -> Option<&'v Value>,
    ) -> Result<bool, ExprEvalError> {
        Ok(match self.eval(lookup)? {
            Value::Bool(b) => b,
            Value::Null => false,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
        })
    }

    fn eval_error(&self, e: EvalexprError<DefaultNumericTypes>) -> ExprEvalError {
        ExprEvalError {
            expression: self.source.clone(),
            message: e.to_string(),
        }
    }
}

/// Checks that every operator has its number of operands. evalexpr builds a tree for some
/// malformed input and only fails when evaluating it (`1 +* 2` becomes `1 + (* 2)`, a
/// multiplication with one operand): checked here, a malformed expression fails when the agent
/// loads, not in the middle of a conversation.
fn check_operands(node: &Node<DefaultNumericTypes>) -> Result<(), String> {
    use evalexpr::Operator::*;
    let expected = match node.operator() {
        Add | Sub | Mul | Div | Mod | Exp | Eq | Neq | Gt | Lt | Geq | Leq | And | Or | Assign
        | AddAssign | SubAssign | MulAssign | DivAssign | ModAssign | ExpAssign | AndAssign
        | OrAssign => Some(2),
        Not | Neg | FunctionIdentifier { .. } => Some(1),
        Const { .. } | VariableIdentifierRead { .. } | VariableIdentifierWrite { .. } => Some(0),
        // The root (empty or one expression), tuples and chains take any number.
        _ => None,
    };
    let found = node.children().len();
    if let Some(expected) = expected
        && found != expected
    {
        return Err(format!(
            "`{}` needs {expected} operand{}, found {found}",
            node.operator(),
            if expected == 1 { "" } else { "s" }
        ));
    }
    node.children().iter().try_for_each(check_operands)
}

/// The variables of one evaluation: only those the expression names.
struct Variables<'a> {
    values: Vec<(&'a str, EValue)>,
}

impl Context for Variables<'_> {
    type NumericTypes = DefaultNumericTypes;

    fn get_value(&self, identifier: &str) -> Option<&EValue> {
        self.values
            .iter()
            .find(|(name, _)| *name == identifier)
            .map(|(_, v)| v)
    }

    fn call_function(&self, identifier: &str, _argument: &EValue) -> EvalexprResult<EValue> {
        Err(EvalexprError::FunctionIdentifierNotFound(
            identifier.to_owned(),
        ))
    }

    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }

    fn set_builtin_functions_disabled(&mut self, _disabled: bool) -> EvalexprResult<()> {
        Err(EvalexprError::BuiltinFunctionsCannotBeDisabled)
    }
}

fn to_evalexpr(value: &Value) -> EValue {
    match value {
        Value::Null => EValue::Empty,
        Value::Bool(b) => EValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => EValue::Int(i),
            None => EValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => EValue::String(s.clone()),
        Value::Array(items) => EValue::Tuple(items.iter().map(to_evalexpr).collect()),
        Value::Object(_) => EValue::String(value.to_string()),
    }
}

fn from_evalexpr(value: &EValue) -> Value {
    match value {
        EValue::Empty => Value::Null,
        EValue::Boolean(b) => Value::Bool(*b),
        EValue::Int(i) => Value::Number((*i).into()),
        EValue::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        EValue::String(s) => Value::String(s.clone()),
        EValue::Tuple(items) => Value::Array(items.iter().map(from_evalexpr).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(source: &str, vars: &Value) -> Result<Value, ExprEvalError> {
        Expr::parse(source).unwrap().eval(|name| vars.get(name))
    }

    #[test]
    fn evaluates_against_variables() {
        let vars = json!({"a": 2, "b": 2.5, "s": "large", "flag": true, "event.order_id": "A17"});
        assert_eq!(eval("a + 1", &vars).unwrap(), json!(3));
        assert_eq!(eval("b * 2", &vars).unwrap(), json!(5.0));
        assert_eq!(eval(r#"s + "!""#, &vars).unwrap(), json!("large!"));
        assert_eq!(
            eval(r#"event.order_id == "A17" && flag"#, &vars).unwrap(),
            json!(true)
        );
        assert_eq!(eval("missing == ()", &vars).unwrap(), json!(true));
        assert_eq!(eval("str::to_uppercase(s)", &vars).unwrap(), json!("LARGE"));
    }

    #[test]
    fn reports_syntax_and_evaluation_errors() {
        let err = Expr::parse("(1 + ").unwrap_err();
        assert!(err.to_string().contains("(1 + "), "{err}");
        // Trees evalexpr builds but could never evaluate.
        for malformed in ["1 +* 2", "2 * / 3", "!", "a = "] {
            assert!(Expr::parse(malformed).is_err(), "{malformed}");
        }
        let err = Expr::parse("1 +* 2").unwrap_err();
        assert!(err.message.contains("needs 2 operands, found 1"), "{err}");
        // Well-formed ones with the operators checked still parse.
        for fine in [
            "-a",
            "!flag",
            "a = 1; b = 2",
            "(1, 2)",
            "len(s)",
            "",
            "x += 1",
        ] {
            assert!(Expr::parse(fine).is_ok(), "{fine}");
        }
        let err = eval(r#"a + "x" * 2"#, &json!({"a": 1})).unwrap_err();
        assert!(err.to_string().contains("failed"), "{err}");
        assert!(eval("nope(1)", &json!({})).is_err());
    }

    #[test]
    fn truthiness_is_forgiving() {
        let vars = json!({"n": 0, "s": "x", "e": ""});
        let truth = |src: &str| {
            Expr::parse(src)
                .unwrap()
                .eval_bool(|n| vars.get(n))
                .unwrap()
        };
        assert!(!truth("n"));
        assert!(truth("s"));
        assert!(!truth("e"));
        assert!(!truth("unset"));
    }
}
