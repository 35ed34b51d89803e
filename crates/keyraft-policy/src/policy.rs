//! [`Policy`]: a compiled policy document, and its evaluation against one request.

use crate::condition::Condition;
use crate::pattern::Pattern;
use crate::principal::Principals;
use crate::request::{Evaluation, Request};

/// A parsed, validated policy document, compiled for fast evaluation (no JSON on the hot path).
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) kind: PolicyKind,
    pub(crate) version: Version,
    pub(crate) statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A key policy (resource-based): every statement must have Principal or NotPrincipal.
    Key,
    /// An identity policy attached to a user/role: Principal/NotPrincipal are not allowed.
    Identity,
}

/// The policy language version of a document (`Version` absent means 2008-10-17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
pub(crate) enum Who {
    /// Identity policies: the statement is about the principal the policy is attached to.
    Attached,
    Principal(Principals),
    NotPrincipal(Principals),
}

/// `Action` / `NotAction` or `Resource` / `NotResource`, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) negated: bool,
    pub(crate) fold_case: bool,
    pub(crate) patterns: Vec<Pattern>,
}

impl Matcher {
    /// Matches nothing: a key-policy statement without Action or Resource (accepted by KMS,
    /// without effect).
    pub(crate) fn nothing() -> Self {
        Matcher { negated: false, fold_case: false, patterns: Vec::new() }
    }

    fn matches(&self, input: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(input, self.fold_case)) != self.negated
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) who: Who,
    pub(crate) actions: Matcher,
    pub(crate) resources: Matcher,
    pub(crate) condition: Option<Condition>,
}

impl Policy {
    /// Whether any statement has a `Condition`: a policy without one never reads the request's
    /// condition context, so a caller may pass an empty one and skip building it.
    pub fn has_conditions(&self) -> bool {
        self.statements.iter().any(|s| s.condition.is_some())
    }

    /// Which kind of policy this was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The document's `Version`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// What this policy says about `request`. Every statement is considered, so all three
    /// flags are exact (a caller may want to know about `allow` even when there is a deny).
    pub fn evaluate(&self, request: &Request<'_>) -> Evaluation {
        let mut out = Evaluation::default();
        for s in &self.statements {
            if !s.actions.matches(request.action) || !s.resources.matches(request.resource) {
                continue;
            }
            let (direct, account) = match &s.who {
                Who::Attached => (true, false),
                Who::Principal(p) => {
                    let m = p.matches(&request.principal);
                    (m.direct, m.account)
                }
                Who::NotPrincipal(p) => (!p.lists_every_identity_of(&request.principal), false),
            };
            if !direct && !account {
                continue;
            }
            if let Some(c) = &s.condition {
                if !c.holds(request.context) {
                    continue;
                }
            }
            match s.effect {
                Effect::Deny => out.explicit_deny = true,
                Effect::Allow if direct => out.allow = true,
                Effect::Allow => out.allow_account = true,
            }
        }
        out
    }
}
