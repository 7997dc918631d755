//! [`InBulk`]: the map `in_bulk()` returns, from a unique field's value to its instance.

use quiver_engine::ScalarValue;

use crate::results::Instance;

/// Instances keyed by a unique field's value, in the order the query returned them.
/// (`ScalarValue` is neither `Hash` nor `Ord`, so lookups compare values.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InBulk {
    entries: Vec<(ScalarValue, Instance)>,
}

impl InBulk {
    /// Adds or replaces the instance for `key`.
    pub fn insert(&mut self, key: ScalarValue, instance: Instance) {
        match self.entries.iter_mut().find(|(k, _)| k == &key) {
            Some(entry) => entry.1 = instance,
            None => self.entries.push((key, instance)),
        }
    }

    /// The instance whose key is `key` (`in_bulk.get(3)`, `in_bulk.get("ann")`).
    pub fn get(&self, key: impl Into<ScalarValue>) -> Option<&Instance> {
        let key = key.into();
        self.entries
            .iter()
            .find(|(k, _)| values_equal(k, &key))
            .map(|(_, i)| i)
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys, in result order.
    pub fn keys(&self) -> impl Iterator<Item = &ScalarValue> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// `(key, instance)` pairs, in result order.
    pub fn iter(&self) -> impl Iterator<Item = (&ScalarValue, &Instance)> {
        self.entries.iter().map(|(k, i)| (k, i))
    }
}

/// Equality that lets an `i64` key find an `Int32` column's value.
fn values_equal(a: &ScalarValue, b: &ScalarValue) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}
