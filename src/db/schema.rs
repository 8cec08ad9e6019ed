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

diesel::table! {
    schools (id) {
        id -> BigInt,
        moet_code -> Text,
        name -> Text,
        name_search -> Text,
        admin_unit_code -> Text,
        level -> Text,
        address -> Nullable<Text>,
        contact -> Nullable<Text>,
        has_mobile_coverage -> Bool,
        has_fixed_internet -> Bool,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    students (id) {
        id -> BigInt,
        external_id -> Text,
        school_id -> BigInt,
        grade -> Integer,
        full_name -> Text,
        birth_date -> Date,
        gender -> Text,
        household_status -> Text,
        device_status -> Text,
        connectivity_status -> Text,
        active -> Bool,
        deleted -> Bool,
        last_seen_run -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    student_changes (seq) {
        seq -> BigInt,
        student_id -> BigInt,
        operation -> Text,
        version -> BigInt,
        actor -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (actor, idem_key) {
        actor -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> admin_units (admin_unit_code));
diesel::joinable!(schools -> admin_units (admin_unit_code));
diesel::joinable!(students -> schools (school_id));
diesel::joinable!(student_changes -> students (student_id));
diesel::allow_tables_to_appear_in_same_query!(
    admin_units,
    users,
    api_clients,
    audit_log,
    schools,
    students,
    student_changes,
    idempotency_keys,
);
