//! The tables, written by hand once for both backends: SQLite and
//! PostgreSQL migrations create the same columns with the same meaning.
//! Timestamps are `TIMESTAMP` holding UTC.

diesel::table! {
    admin_units (code) {
        code -> Text,
        parent_code -> Nullable<Text>,
        level -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        admin_unit_code -> Nullable<Text>,
        school_id -> Nullable<BigInt>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_clients (id) {
        id -> BigInt,
        client_id -> Text,
        secret_hash -> Text,
        name -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        changes -> Text,
    }
}

diesel::joinable!(users -> admin_units (admin_unit_code));
diesel::allow_tables_to_appear_in_same_query!(admin_units, users, api_clients, audit_log);
