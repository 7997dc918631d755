//! `#[derive(Model)]`: a plain Rust struct becomes a Quiver model with typed rows.
//!
//! In the spirit of SeaORM's `DeriveEntityModel` rather than Diesel's type-level queries: the
//! macro emits static model metadata (`ModelDef::model()`), conversions to and from rows
//! (`FromRow`, `IntoRow`) and one `&'static str` constant per field (`Student::NAME`), so
//! field names used through the constants are checked by the compiler while queries stay
//! ordinary QuerySets. Field kinds follow the Rust types:
//!
//! | Rust type | Django field |
//! |---|---|
//! | `i16` / `i32` / `i64` | `SmallIntegerField` / `IntegerField` / `BigIntegerField` |
//! | `f64` | `FloatField` |
//! | `bool` | `BooleanField` |
//! | `String` | `CharField(max_length)` with `#[quiver(max_length = N)]`, else `TextField` |
//! | `quiver::Decimal` | `DecimalField` with `#[quiver(max_digits = P, decimal_places = S)]` |
//! | `NaiveDate` / `NaiveDateTime` / `NaiveTime` | `DateField` / `DateTimeField` / `TimeField` |
//! | `Option<T>` | the same field with `null=True` |
//!
//! A field named `id` of an integer type is the automatic primary key (as in Django) unless
//! another field says `#[quiver(primary_key)]`; declare it `Option<i64>` and leave it `None` to
//! have `bulk_create` assign it; `#[quiver(foreign_key = "Customer")]` on an
//! integer field `customer` makes a `ForeignKey` whose column is `customer_id`.
//!
//! Typed relations: a field `customer: ForeignKey<Customer>` is a ForeignKey to the model of
//! `Customer` (column `customer_id`; `#[quiver(null)]` makes it nullable, `on_delete` and
//! `related_name` as above). Its value holds the key and — after `select_related` or
//! `prefetch_related` — the loaded `Customer` (`order.customer.loaded()`); without it,
//! `order.customer.fetch(&db)` runs one query. A field `#[quiver(related = "book_set")]
//! books: Vec<Book>` is no column: it receives what `prefetch_related("book_set")` loaded.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::{
    parse_macro_input, Data, DeriveInput, Fields, GenericArgument, LitStr, PathArguments, Type,
};

/// Derives `quiver::ModelDef`, `quiver::FromRow` and `quiver::IntoRow` for a struct with named
/// fields. See the crate documentation for the attributes.
#[proc_macro_derive(Model, attributes(quiver))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct FieldAttrs {
    max_length: Option<u32>,
    max_digits: Option<u8>,
    decimal_places: Option<u8>,
    primary_key: bool,
    unique: bool,
    db_index: bool,
    foreign_key: Option<String>,
    on_delete: Option<String>,
    related_name: Option<String>,
    null: bool,
    related: Option<String>,
    one_to_one: bool,
}

#[derive(Default)]
struct ModelAttrs {
    name: Option<String>,
    table: Option<String>,
    ordering: Vec<String>,
}

fn parse_model_attrs(input: &DeriveInput) -> syn::Result<ModelAttrs> {
    let mut attrs = ModelAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("quiver")) {
        attr.parse_nested_meta(|meta| {
            let value = || -> syn::Result<String> { Ok(meta.value()?.parse::<LitStr>()?.value()) };
            if meta.path.is_ident("name") {
                attrs.name = Some(value()?);
            } else if meta.path.is_ident("table") {
                attrs.table = Some(value()?);
            } else if meta.path.is_ident("ordering") {
                attrs.ordering = value()?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
            } else {
                return Err(meta.error("unknown model attribute; expected name, table or ordering"));
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

fn parse_field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("quiver")) {
        attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            if path.is_ident("primary_key") {
                attrs.primary_key = true;
            } else if path.is_ident("unique") {
                attrs.unique = true;
            } else if path.is_ident("db_index") {
                attrs.db_index = true;
            } else if path.is_ident("max_length") {
                attrs.max_length = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?);
            } else if path.is_ident("max_digits") {
                attrs.max_digits = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?);
            } else if path.is_ident("decimal_places") {
                attrs.decimal_places = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?);
            } else if path.is_ident("foreign_key") {
                attrs.foreign_key = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if path.is_ident("on_delete") {
                attrs.on_delete = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if path.is_ident("related_name") {
                attrs.related_name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if path.is_ident("null") {
                attrs.null = true;
            } else if path.is_ident("related") {
                attrs.related = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if path.is_ident("one_to_one") {
                attrs.one_to_one = true;
            } else {
                return Err(meta.error(
                    "unknown field attribute; expected primary_key, unique, db_index, max_length, \
                     max_digits, decimal_places, foreign_key, on_delete, related_name, null, \
                     related or one_to_one",
                ));
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

/// `Option<T>` → `(T, true)`, else `(ty, false)`.
fn unwrap_option(ty: &Type) -> (&Type, bool) {
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "Option" {
                if let PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(GenericArgument::Type(inner)) = args.args.first() {
                        return (inner, true);
                    }
                }
            }
        }
    }
    (ty, false)
}

/// `Name<T>` → `T`.
fn generic_argument(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}

fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn on_delete_tokens(name: Option<&str>, span: &syn::Field) -> syn::Result<TokenStream2> {
    Ok(match name.unwrap_or("cascade").to_ascii_lowercase().as_str() {
        "cascade" => quote!(::quiver::model::OnDelete::Cascade),
        "protect" => quote!(::quiver::model::OnDelete::Protect),
        "restrict" => quote!(::quiver::model::OnDelete::Restrict),
        "set_null" => quote!(::quiver::model::OnDelete::SetNull),
        "set_default" => quote!(::quiver::model::OnDelete::SetDefault),
        "do_nothing" => quote!(::quiver::model::OnDelete::DoNothing),
        other => {
            return Err(syn::Error::new_spanned(
                span,
                format!("unknown on_delete \"{other}\"; expected cascade, protect, restrict, set_null, set_default or do_nothing"),
            ))
        }
    })
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "#[derive(Model)] needs a struct",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            ident,
            "#[derive(Model)] needs named fields",
        ));
    };
    let model_attrs = parse_model_attrs(input)?;
    let model_name = model_attrs
        .name
        .clone()
        .unwrap_or_else(|| ident.to_string());
    let has_explicit_pk = fields
        .named
        .iter()
        .map(parse_field_attrs)
        .collect::<syn::Result<Vec<_>>>()?
        .iter()
        .any(|a| a.primary_key);

    let mut field_defs = Vec::new();
    let mut from_row = Vec::new();
    let mut from_instance = Vec::new();
    let mut into_row = Vec::new();
    let mut consts = Vec::new();
    for field in &fields.named {
        let Some(rust_name) = &field.ident else {
            continue;
        };
        let attrs = parse_field_attrs(field)?;
        let name = rust_name.to_string();
        let (inner, nullable) = unwrap_option(&field.ty);
        let inner_name = type_name(inner);
        let is_int = matches!(inner_name.as_str(), "i16" | "i32" | "i64");
        if let Some(accessor) = &attrs.related {
            // Loaded related objects, no column: a collection (`Vec<T>`), or the one object
            // of a reverse OneToOne (`Option<T>`).
            if nullable {
                from_row.push(quote! { #rust_name: ::std::option::Option::None });
                from_instance.push(quote! {
                    #rust_name: ::quiver::typed::prefetched_object(instance, #accessor)?
                });
            } else {
                from_row.push(quote! { #rust_name: ::std::vec::Vec::new() });
                from_instance.push(quote! {
                    #rust_name: ::quiver::typed::prefetched_collection(instance, #accessor)?
                });
            }
            continue;
        }
        let typed_target = (inner_name == "ForeignKey")
            .then(|| generic_argument(inner))
            .flatten();
        if let Some(target) = typed_target {
            let column = format!("{name}_id");
            let const_ident = format_ident!("{}", name.to_ascii_uppercase());
            consts.push(quote! {
                #[doc = concat!("The model field name `", #name, "`.")]
                pub const #const_ident: &'static str = #name;
            });
            from_row.push(quote! {
                #rust_name: ::quiver::model::ForeignKey::from_id(row.get_value(#column)?)
            });
            from_instance.push(quote! {
                #rust_name: ::quiver::model::ForeignKey::from_instance_field(instance, #name)?
            });
            into_row.push(
                quote! { row.push((#column, ::quiver::ScalarValue::from(&self.#rust_name))); },
            );
            let target_name = type_name(target);
            let to = if target_name == "Self" || *ident == target_name {
                quote!(#model_name)
            } else {
                quote!(<#target as ::quiver::ModelDef>::model().name().to_string())
            };
            let on_delete = on_delete_tokens(attrs.on_delete.as_deref(), field)?;
            let mut spec = if attrs.one_to_one {
                quote!(::quiver::model::OneToOneField::new(#to, #on_delete))
            } else {
                quote!(::quiver::model::ForeignKey::new(#to, #on_delete))
            };
            if attrs.null || nullable {
                spec = quote!(#spec.null());
            }
            if let Some(related) = &attrs.related_name {
                spec = quote!(#spec.related_name(#related));
            }
            field_defs.push(quote! { .field(#name, #spec) });
            continue;
        }
        let column = if attrs.foreign_key.is_some() {
            format!("{name}_id")
        } else {
            name.clone()
        };
        let const_ident = format_ident!("{}", name.to_ascii_uppercase());
        consts.push(quote! {
            #[doc = concat!("The model field name `", #name, "`.")]
            pub const #const_ident: &'static str = #name;
        });
        from_row.push(quote! { #rust_name: row.get(#column)? });
        from_instance.push(quote! { #rust_name: instance.row().get(#column)? });

        let auto_pk = name == "id" && is_int && !has_explicit_pk;
        if auto_pk {
            // Django's implicit `id = BigAutoField(primary_key=True)`; the model adds it. An
            // `Option` id of `None` is "not saved yet": the database assigns one.
            if nullable {
                into_row.push(quote! {
                    if let ::std::option::Option::Some(id) = self.#rust_name {
                        row.push((#column, ::quiver::ScalarValue::from(id)));
                    }
                });
            } else {
                into_row.push(
                    quote! { row.push((#column, ::quiver::ScalarValue::from(self.#rust_name))); },
                );
            }
            continue;
        }
        into_row
            .push(quote! { row.push((#column, ::quiver::ScalarValue::from(self.#rust_name))); });
        let mut spec = if let Some(target) = &attrs.foreign_key {
            if !is_int {
                return Err(syn::Error::new_spanned(
                    field,
                    "a foreign_key field must be an integer (the target's id)",
                ));
            }
            let on_delete = on_delete_tokens(attrs.on_delete.as_deref(), field)?;
            quote!(::quiver::model::ForeignKey::new(#target, #on_delete))
        } else {
            match inner_name.as_str() {
                "i16" => quote!(::quiver::model::SmallIntegerField::new()),
                "i32" => quote!(::quiver::model::IntegerField::new()),
                "i64" => quote!(::quiver::model::BigIntegerField::new()),
                "f64" => quote!(::quiver::model::FloatField::new()),
                "bool" => quote!(::quiver::model::BooleanField::new()),
                "String" => match attrs.max_length {
                    Some(n) => quote!(::quiver::model::CharField::new(#n)),
                    None => quote!(::quiver::model::TextField::new()),
                },
                "NaiveDate" => quote!(::quiver::model::DateField::new()),
                "NaiveDateTime" => quote!(::quiver::model::DateTimeField::new()),
                "NaiveTime" => quote!(::quiver::model::TimeField::new()),
                "Decimal" => {
                    let (Some(p), Some(s)) = (attrs.max_digits, attrs.decimal_places) else {
                        return Err(syn::Error::new_spanned(
                            field,
                            "a Decimal field needs #[quiver(max_digits = P, decimal_places = S)]",
                        ));
                    };
                    quote!(::quiver::model::DecimalField::new(#p, #s))
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        &field.ty,
                        format!("#[derive(Model)] does not know which field type stores `{other}`"),
                    ))
                }
            }
        };
        if nullable {
            spec = quote!(#spec.null());
        }
        if attrs.primary_key {
            spec = quote!(#spec.primary_key());
        }
        if attrs.unique {
            spec = quote!(#spec.unique());
        }
        if attrs.db_index {
            spec = quote!(#spec.db_index());
        }
        if let Some(related) = &attrs.related_name {
            spec = quote!(#spec.related_name(#related));
        }
        field_defs.push(quote! { .field(#name, #spec) });
    }
    let table = model_attrs.table.as_ref().map(|t| quote!(.db_table(#t)));
    let ordering = &model_attrs.ordering;
    let ordering = (!ordering.is_empty()).then(|| quote!(.ordering([#(#ordering),*])));

    Ok(quote! {
        impl ::quiver::ModelDef for #ident {
            fn model() -> ::quiver::model::Model {
                ::quiver::model::Model::new(#model_name)
                    #(#field_defs)*
                    #table
                    #ordering
            }
        }

        impl ::quiver::FromRow for #ident {
            fn from_row(row: &::quiver::Row) -> ::quiver::Result<Self> {
                Ok(#ident { #(#from_row),* })
            }

            fn from_instance(instance: &::quiver::results::Instance) -> ::quiver::Result<Self> {
                Ok(#ident { #(#from_instance),* })
            }
        }

        impl ::quiver::IntoRow for #ident {
            fn into_row(self) -> ::std::vec::Vec<(&'static str, ::quiver::ScalarValue)> {
                let mut row = ::std::vec::Vec::new();
                #(#into_row)*
                row
            }
        }

        impl #ident {
            #(#consts)*
        }
    })
}
