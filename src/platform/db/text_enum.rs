//! `text_enum!`: enums stored and sent as one word each, with the diesel,
//! serde and OpenAPI impls generated from the same word list (so the spec
//! cannot drift from the wire).

/// Declares an enum that is stored as TEXT (each table guards the column
/// with a CHECK constraint listing the same words), serialised in JSON and
/// documented in OpenAPI with those words, and parsed in exactly one place.
///
/// The OpenAPI schema is written here from the same `$text` words the
/// parser matches, not derived: utoipa's derive does not see
/// `#[serde(rename = $text)]` when `$text` comes through a macro fragment
/// and documented the Rust variant names instead (a generated client then
/// sent `DistrictOfficer` where the server speaks `district_officer`).
macro_rules! text_enum {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $( $(#[doc = $vdoc:literal])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $( $(#[doc = $vdoc])* $variant ),+
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                // The enum's own doc, then one line per word with the
                // variant's doc, so an integrator sees what each word means.
                let words: &[(&str, &str)] = &[$(($text, concat!("" $(, $vdoc)*))),+];
                let mut description = concat!("" $(, $doc)*).trim().to_owned();
                for (word, doc) in words {
                    description.push_str(&format!("\n- `{word}`"));
                    if !doc.trim().is_empty() {
                        description.push_str(": ");
                        description.push_str(doc.trim());
                    }
                }
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description(Some(description.trim().to_owned()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    // The value itself is never repeated: it may be a
                    // child's name typed into the wrong column.
                    _ => Err(concat!("must be one of: ", $($text, ", ",)+).trim_end_matches(", ").to_owned()),
                }
            }
        }

        // Read through FromStr so that a wrong JSON type is a data error
        // (422) and an unknown word lists the accepted ones.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                text.parse().map_err(Into::into)
            }
        }
    };
}
pub(crate) use text_enum;
