//! The `Condition` element: operators, compiled values, evaluation.
//!
//! Semantics (IAM User Guide, "IAM JSON policy elements: Condition operators", "Conditions with
//! multiple context keys or values", "Single-valued vs. multivalued context keys"):
//! - several operator blocks AND together, several keys in one block AND together, several
//!   policy values for one key OR together — NOR for a negated operator
//!   (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`, `NumericNotEquals`,
//!   `DateNotEquals`, `NotIpAddress`, `ArnNotEquals`, `ArnNotLike`);
//! - a key absent from the request: false, except true for a negated operator, true for any
//!   `…IfExists`, true for `ForAllValues:`, false for `ForAnyValue:`; `Null` tests presence;
//! - `ForAllValues:` is true when every request value matches (a negated operator: matches
//!   none of the policy values); `ForAnyValue:` when at least one does;
//! - without a set operator a multivalued request key matches when any of its values matches
//!   (a negated operator then is the negation of that).

use serde_json::Value;

use crate::date;
use crate::error::PolicyError;
use crate::ip::Cidr;
use crate::pattern::Pattern;
use crate::request::Context;

/// A compiled `Condition` element: all blocks must hold.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    blocks: Vec<Block>,
}

/// One `"<operator>": { "<key>": <values>, … }` entry of the Condition element.
#[derive(Debug, Clone)]
struct Block {
    set: SetOp,
    if_exists: bool,
    negated: bool,
    tests: Vec<KeyTest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone)]
struct KeyTest {
    /// Lowercased condition key.
    key: String,
    values: Values,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Policy values of one key, parsed for the operator's type.
#[derive(Debug, Clone)]
enum Values {
    Str(Vec<String>),
    StrIgnoreCase(Vec<String>),
    Like(Vec<Pattern>),
    Num(Cmp, Vec<f64>),
    Date(Cmp, Vec<i64>),
    Bool(Vec<bool>),
    Binary(Vec<String>),
    Ip(Vec<Cidr>),
    Arn(Vec<ArnPattern>),
    /// `Null`: `true` = the key must be absent, `false` = present.
    Null(Vec<bool>),
}

/// An ARN pattern split into its six colon-delimited components, each matched on its own.
#[derive(Debug, Clone)]
struct ArnPattern {
    parts: Vec<Pattern>,
}

/// The base operator (without prefix and `IfExists`) and whether it is negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

fn base_operator(name: &str) -> Option<(Base, bool)> {
    use Cmp::*;
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "stringequals" => (Base::StringEquals, false),
        "stringnotequals" => (Base::StringEquals, true),
        "stringequalsignorecase" => (Base::StringEqualsIgnoreCase, false),
        "stringnotequalsignorecase" => (Base::StringEqualsIgnoreCase, true),
        "stringlike" => (Base::StringLike, false),
        "stringnotlike" => (Base::StringLike, true),
        "numericequals" => (Base::Numeric(Eq), false),
        "numericnotequals" => (Base::Numeric(Eq), true),
        "numericlessthan" => (Base::Numeric(Lt), false),
        "numericlessthanequals" => (Base::Numeric(Le), false),
        "numericgreaterthan" => (Base::Numeric(Gt), false),
        "numericgreaterthanequals" => (Base::Numeric(Ge), false),
        "dateequals" => (Base::Date(Eq), false),
        "datenotequals" => (Base::Date(Eq), true),
        "datelessthan" => (Base::Date(Lt), false),
        "datelessthanequals" => (Base::Date(Le), false),
        "dategreaterthan" => (Base::Date(Gt), false),
        "dategreaterthanequals" => (Base::Date(Ge), false),
        "bool" => (Base::Bool, false),
        "binaryequals" => (Base::Binary, false),
        "ipaddress" => (Base::Ip, false),
        "notipaddress" => (Base::Ip, true),
        "arnequals" | "arnlike" => (Base::Arn, false),
        "arnnotequals" | "arnnotlike" => (Base::Arn, true),
        "null" => (Base::Null, false),
        _ => return None,
    })
}

impl Condition {
    /// Compiles the value of a `Condition` element.
    pub fn parse(value: &Value) -> Result<Condition, PolicyError> {
        let Value::Object(ops) = value else {
            return Err(PolicyError::malformed(crate::error::messages::SYNTAX));
        };
        let mut blocks = Vec::with_capacity(ops.len());
        for (op, keys) in ops {
            blocks.push(parse_block(op, keys)?);
        }
        Ok(Condition { blocks })
    }

    /// Whether every block holds for `context`.
    pub fn holds(&self, context: &Context) -> bool {
        self.blocks.iter().all(|b| b.holds(context))
    }
}

fn parse_block(op: &str, keys: &Value) -> Result<Block, PolicyError> {
    let unknown = || PolicyError::malformed(format!("Invalid Condition type : {op}."));
    let lower = op.to_ascii_lowercase();
    let (set, rest) = if lower.starts_with("forallvalues:") {
        (SetOp::ForAllValues, &op["forallvalues:".len()..])
    } else if lower.starts_with("foranyvalue:") {
        (SetOp::ForAnyValue, &op["foranyvalue:".len()..])
    } else {
        (SetOp::Single, op)
    };
    let (name, if_exists) = match rest.len().checked_sub("ifexists".len()) {
        Some(cut) if rest.is_char_boundary(cut) && rest[cut..].eq_ignore_ascii_case("ifexists") => (&rest[..cut], true),
        _ => (rest, false),
    };
    let (base, negated) = base_operator(name).ok_or_else(unknown)?;
    // IAM User Guide: "You can add IfExists to the end of any condition operator name except
    // the Null condition."
    if base == Base::Null && if_exists {
        return Err(unknown());
    }
    let Value::Object(map) = keys else {
        return Err(PolicyError::malformed(crate::error::messages::SYNTAX));
    };
    let mut tests = Vec::with_capacity(map.len());
    for (key, raw) in map {
        let texts = value_texts(raw).ok_or_else(|| {
            PolicyError::malformed(format!(
                "Invalid value for condition key {key} of {op}: values must be strings, numbers or booleans."
            ))
        })?;
        let bad = |t: &str| PolicyError::malformed(format!("Invalid value {t} for condition key {key} of {op}."));
        let values = match base {
            Base::StringEquals => Values::Str(texts),
            Base::StringEqualsIgnoreCase => Values::StrIgnoreCase(texts),
            Base::StringLike => Values::Like(texts.iter().map(|t| Pattern::new(t, false)).collect()),
            Base::Binary => Values::Binary(texts),
            Base::Numeric(cmp) => {
                Values::Num(cmp, texts.iter().map(|t| parse_number(t).ok_or_else(|| bad(t))).collect::<Result<_, _>>()?)
            }
            Base::Date(cmp) => {
                Values::Date(cmp, texts.iter().map(|t| date::parse(t).ok_or_else(|| bad(t))).collect::<Result<_, _>>()?)
            }
            Base::Bool => {
                Values::Bool(texts.iter().map(|t| parse_bool(t).ok_or_else(|| bad(t))).collect::<Result<_, _>>()?)
            }
            Base::Null => {
                Values::Null(texts.iter().map(|t| parse_bool(t).ok_or_else(|| bad(t))).collect::<Result<_, _>>()?)
            }
            Base::Ip => {
                Values::Ip(texts.iter().map(|t| Cidr::parse(t).ok_or_else(|| bad(t))).collect::<Result<_, _>>()?)
            }
            Base::Arn => Values::Arn(texts.iter().map(|t| ArnPattern::new(t)).collect()),
        };
        tests.push(KeyTest { key: key.to_lowercase(), values });
    }
    Ok(Block { set, if_exists, negated, tests })
}

/// A condition value: a string, number or boolean, or an array of those.
fn value_texts(v: &Value) -> Option<Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match v {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn parse_number(t: &str) -> Option<f64> {
    t.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(t: &str) -> Option<bool> {
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl ArnPattern {
    fn new(text: &str) -> Self {
        ArnPattern { parts: text.splitn(6, ':').map(|p| Pattern::new(p, false)).collect() }
    }

    fn matches(&self, arn: &str) -> bool {
        if self.parts.len() != 6 {
            // Not an ARN-shaped pattern: only "*" can match anything.
            return self.parts.len() == 1 && self.parts[0].matches(arn, false);
        }
        let mut given = arn.splitn(6, ':');
        self.parts.iter().all(|p| given.next().is_some_and(|g| p.matches(g, false)))
    }
}

fn compare<T: PartialOrd>(cmp: Cmp, request: T, policy: T) -> bool {
    match cmp {
        Cmp::Eq => request == policy,
        Cmp::Lt => request < policy,
        Cmp::Le => request <= policy,
        Cmp::Gt => request > policy,
        Cmp::Ge => request >= policy,
    }
}

fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
    }
}

impl Values {
    /// Whether one request value matches any of the policy values (the positive operator).
    fn any_matches(&self, v: &str) -> bool {
        match self {
            Values::Str(ps) => ps.iter().any(|p| p == v),
            Values::StrIgnoreCase(ps) => ps.iter().any(|p| fold_eq(p, v)),
            Values::Like(ps) => ps.iter().any(|p| p.matches(v, false)),
            Values::Binary(ps) => ps.iter().any(|p| p == v),
            Values::Num(cmp, ps) => parse_number(v).is_some_and(|n| ps.iter().any(|p| compare(*cmp, n, *p))),
            Values::Date(cmp, ps) => date::parse(v).is_some_and(|d| ps.iter().any(|p| compare(*cmp, d, *p))),
            Values::Bool(ps) => parse_bool(v).is_some_and(|b| ps.contains(&b)),
            Values::Ip(ps) => ps.iter().any(|c| c.contains(v)),
            Values::Arn(ps) => ps.iter().any(|p| p.matches(v)),
            Values::Null(_) => false,
        }
    }
}

impl Block {
    fn holds(&self, context: &Context) -> bool {
        self.tests.iter().all(|t| self.test_holds(t, context))
    }

    fn test_holds(&self, test: &KeyTest, context: &Context) -> bool {
        let present = context.get_lowercase(&test.key).filter(|values| !values.is_empty());
        if let Values::Null(wants_absent) = &test.values {
            return wants_absent.iter().any(|&absent| absent == present.is_none());
        }
        let Some(values) = present else {
            return self.if_exists
                || match self.set {
                    SetOp::Single => self.negated,
                    SetOp::ForAllValues => true,
                    SetOp::ForAnyValue => false,
                };
        };
        let hit = |v: &String| test.values.any_matches(v) != self.negated;
        match self.set {
            SetOp::Single if self.negated => !values.iter().any(|v| test.values.any_matches(v)),
            SetOp::Single | SetOp::ForAnyValue => values.iter().any(hit),
            SetOp::ForAllValues => values.iter().all(hit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(cond: Value, pairs: &[(&str, &str)]) -> bool {
        let mut ctx = Context::new();
        for (k, v) in pairs {
            ctx.insert(k, *v);
        }
        Condition::parse(&cond).unwrap().holds(&ctx)
    }

    #[test]
    fn string_family() {
        let c = json!({"StringEquals": {"k": ["a", "b"]}});
        assert!(holds(c.clone(), &[("k", "b")]));
        assert!(!holds(c.clone(), &[("k", "B")]));
        assert!(!holds(c, &[]));
        let c = json!({"StringNotEquals": {"k": ["a", "b"]}});
        assert!(!holds(c.clone(), &[("k", "a")]));
        assert!(holds(c.clone(), &[("k", "c")]));
        assert!(holds(c, &[]), "negated operator with the key absent is true");
        assert!(holds(json!({"StringEqualsIgnoreCase": {"K": "AbC"}}), &[("k", "aBc")]));
        assert!(!holds(json!({"StringNotEqualsIgnoreCase": {"k": "AbC"}}), &[("k", "aBc")]));
        assert!(holds(json!({"StringLike": {"k": "ab*"}}), &[("k", "abc")]));
        assert!(!holds(json!({"StringLike": {"k": "ab*"}}), &[("k", "Abc")]));
        assert!(holds(json!({"StringNotLike": {"k": "ab*"}}), &[("k", "xbc")]));
        assert!(holds(json!({"StringEqualsIfExists": {"k": "a"}}), &[]));
        assert!(!holds(json!({"StringEqualsIfExists": {"k": "a"}}), &[("k", "b")]));
    }

    #[test]
    fn numeric_date_bool_binary_ip_arn() {
        assert!(holds(json!({"NumericLessThan": {"n": 10}}), &[("n", "9.5")]));
        assert!(!holds(json!({"NumericLessThan": {"n": "10"}}), &[("n", "10")]));
        assert!(holds(json!({"NumericLessThanEquals": {"n": "10"}}), &[("n", "10")]));
        assert!(holds(json!({"NumericGreaterThanEquals": {"n": "10"}}), &[("n", "10")]));
        assert!(!holds(json!({"NumericGreaterThan": {"n": "10"}}), &[("n", "10")]));
        assert!(holds(json!({"NumericNotEquals": {"n": "10"}}), &[("n", "11")]));
        assert!(!holds(json!({"NumericEquals": {"n": "10"}}), &[("n", "ten")]));
        let t = &[("aws:CurrentTime", "2026-12-04T13:00:00Z")];
        assert!(holds(json!({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}), t));
        assert!(!holds(json!({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01"}}), t));
        assert!(holds(json!({"DateGreaterThanEquals": {"aws:CurrentTime": 1796389200}}), t));
        assert!(holds(json!({"DateEquals": {"aws:CurrentTime": "1796389200"}}), t));
        assert!(!holds(json!({"DateNotEquals": {"aws:CurrentTime": "1796389200"}}), t));
        assert!(holds(json!({"Bool": {"aws:SecureTransport": true}}), &[("aws:securetransport", "true")]));
        assert!(!holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &[("aws:SecureTransport", "false")]));
        assert!(holds(json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}), &[]));
        assert!(holds(json!({"BinaryEquals": {"k": "QmluYXJ5"}}), &[("k", "QmluYXJ5")]));
        assert!(!holds(json!({"BinaryEquals": {"k": "QmluYXJ5"}}), &[("k", "qmluyxj5")]));
        let ip = json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8::/32"]}});
        assert!(holds(ip.clone(), &[("aws:SourceIp", "2001:db8::7")]));
        assert!(!holds(ip, &[("aws:SourceIp", "198.51.100.1")]));
        assert!(holds(
            json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[("aws:SourceIp", "198.51.100.1")]
        ));
        let arn = json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}});
        assert!(holds(arn.clone(), &[("aws:SourceArn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t")]));
        assert!(!holds(arn, &[("aws:SourceArn", "arn:aws:cloudtrail:us-east-1:444455556666:trail/t")]));
        assert!(holds(
            json!({"ArnEquals": {"k": "arn:aws:iam::111122223333:role/R"}}),
            &[("k", "arn:aws:iam::111122223333:role/R")]
        ));
        assert!(holds(
            json!({"ArnNotEquals": {"k": "arn:aws:iam::111122223333:role/R"}}),
            &[("k", "arn:aws:iam::111122223333:role/S")]
        ));
    }

    #[test]
    fn null_and_sets() {
        assert!(holds(json!({"Null": {"k": "true"}}), &[]));
        assert!(!holds(json!({"Null": {"k": "true"}}), &[("k", "x")]));
        assert!(holds(json!({"Null": {"k": false}}), &[("k", "x")]));
        let all = json!({"ForAllValues:StringEquals": {"k": ["a", "b"]}});
        assert!(holds(all.clone(), &[("k", "a"), ("k", "b")]));
        assert!(!holds(all.clone(), &[("k", "a"), ("k", "c")]));
        assert!(holds(all, &[]), "ForAllValues with the key absent is true");
        let any = json!({"ForAnyValue:StringEquals": {"k": ["a", "b"]}});
        assert!(holds(any.clone(), &[("k", "c"), ("k", "b")]));
        assert!(!holds(any.clone(), &[("k", "c")]));
        assert!(!holds(any, &[]), "ForAnyValue with the key absent is false");
        let any_not = json!({"ForAnyValue:StringNotEquals": {"k": ["a", "b"]}});
        assert!(holds(any_not.clone(), &[("k", "a"), ("k", "c")]));
        assert!(!holds(any_not, &[("k", "a"), ("k", "b")]));
        assert!(holds(json!({"ForAnyValue:StringEqualsIfExists": {"k": "a"}}), &[]));
    }

    #[test]
    fn malformed_conditions() {
        for (c, msg) in [
            (json!({"StringEqualz": {"k": "a"}}), "Invalid Condition type : StringEqualz."),
            (json!({"NullIfExists": {"k": "true"}}), "Invalid Condition type : NullIfExists."),
            (json!({"ForSomeValues:StringEquals": {"k": "a"}}), "Invalid Condition type : ForSomeValues:StringEquals."),
        ] {
            assert_eq!(Condition::parse(&c).unwrap_err(), PolicyError::Malformed(msg.into()));
        }
        for c in [
            json!({"NumericEquals": {"k": "ten"}}),
            json!({"DateLessThan": {"k": "soon"}}),
            json!({"Bool": {"k": "yes"}}),
            json!({"IpAddress": {"k": "10.0.0.0/40"}}),
            json!({"StringEquals": {"k": {"nested": 1}}}),
            json!({"StringEquals": "k"}),
            json!(["StringEquals"]),
        ] {
            assert!(Condition::parse(&c).is_err(), "{c}");
        }
    }
}
