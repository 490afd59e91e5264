//! DynamoDB update, condition and key expressions, built up clause by clause.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{n, s};
use crate::connections::{due_shard, Status};

/// An update or query expression with its attribute names and values, each given a placeholder
/// (`status`, `version`, ... are reserved words in DynamoDB expressions).
#[derive(Default)]
pub(super) struct Expr {
    pub(super) sets: Vec<String>,
    pub(super) removes: Vec<String>,
    pub(super) conditions: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub(super) fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn set(&mut self, attribute: &str, value: AttributeValue) {
        let (name, value) = (self.name(attribute), self.value(value));
        self.sets.push(format!("{name} = {value}"));
    }

    pub(super) fn set_if_absent(&mut self, attribute: &str, value: AttributeValue) {
        let (name, value) = (self.name(attribute), self.value(value));
        self.sets.push(format!("{name} = if_not_exists({name}, {value})"));
    }

    pub(super) fn increment(&mut self, attribute: &str) {
        let (name, zero, one) = (self.name(attribute), self.value(n(0)), self.value(n(1)));
        self.sets
            .push(format!("{name} = if_not_exists({name}, {zero}) + {one}"));
    }

    pub(super) fn remove(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.removes.push(name);
    }

    pub(super) fn condition(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// Sets the expiry, and the sparse `due` index key along with it (writers of tokens only
    /// run on active connections).
    pub(super) fn expiry(&mut self, key: &str, expires_at: Option<i64>) {
        match expires_at {
            Some(expires_at) => {
                self.set("expires_at", n(expires_at));
                self.set("due_shard", s(&due_shard(key).to_string()));
            }
            None => {
                self.remove("expires_at");
                self.remove("due_shard");
            }
        }
    }

    /// Only if the item is still at `version`.
    pub(super) fn at_version(&mut self, version: u64) {
        let (name, value) = (self.name("version"), self.value(n(version)));
        self.condition(format!("{name} = {value}"));
    }

    /// Only if the connection is active.
    pub(super) fn while_active(&mut self) {
        let (name, value) = (self.name("status"), self.value(s(Status::Active.as_str())));
        self.condition(format!("{name} = {value}"));
    }

    pub(super) fn clear_lease(&mut self) {
        self.remove("lease_owner");
        self.remove("lease_expires_at_ms");
    }

    /// What a refresh that worked, or a new consent, leaves behind: no failures, no mark.
    pub(super) fn clear_troubles(&mut self) {
        self.remove("refresh_failures");
        self.remove("reauthorization");
    }

    pub(super) fn update_expression(&self) -> String {
        let mut clauses = Vec::new();
        if !self.sets.is_empty() {
            clauses.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            clauses.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        clauses.join(" ")
    }
}
