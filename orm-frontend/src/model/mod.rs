//! Models: Django's model classes defined at run time (or by `#[derive(Model)]`).
//!
//! [`fields`](FieldSpec) are the field classes, [`Model`] the builder and validated model,
//! [`Registry`] the set of registered models with their reverse relations.

mod fields;
#[allow(clippy::module_inception)]
mod model;
mod registry;
mod relations;

pub use fields::*;
pub use model::{Field, Index, MetaConstraint, Model};
pub use registry::{Registry, ReverseRelation};
pub use relations::{
    many_to_many_back_name, JoinStep, ManyToManyLink, RelationKind, RelationPath, ReverseManyToMany,
};
