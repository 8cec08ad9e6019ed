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

// One row, renewed with every change to admin_units (src/platform/unit_tree.rs).
diesel::table! {
    admin_unit_tree_stamp (stamp) {
        stamp -> Text,
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
        operator_id -> Nullable<BigInt>,
        token_version -> BigInt,
        extra_roles -> Text,
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
        token_version -> BigInt,
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
        pre_reform_unit_code -> Nullable<Text>,
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
        /// The programme handed the student a device (until it comes back).
        held_device -> Bool,
        /// The programme handed the student a data package.
        held_connectivity -> Bool,
        /// When a purge anonymised the student (README, "Retention").
        purged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The last full-roster run that sent each student unchanged.
    students_seen_unchanged (student_id) {
        student_id -> BigInt,
        run_id -> Text,
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

diesel::table! {
    admin_unit_flags (admin_unit_code) {
        admin_unit_code -> Text,
        lockdown -> Bool,
        lockdown_from -> Nullable<Date>,
        lockdown_until -> Nullable<Date>,
        note -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    priority_rules (rule) {
        rule -> Text,
        points -> Integer,
        description -> Text,
    }
}

diesel::table! {
    needs (id) {
        id -> BigInt,
        kind -> Text,
        student_id -> Nullable<BigInt>,
        school_id -> BigInt,
        admin_unit_code -> Text,
        school_level -> Text,
        quantity -> Integer,
        note -> Nullable<Text>,
        status -> Text,
        priority -> Integer,
        priority_reasons -> Text,
        reported_by -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    need_events (id) {
        id -> BigInt,
        need_id -> BigInt,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor -> Text,
        reason -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    operators (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    coverage_gaps (id) {
        id -> BigInt,
        admin_unit_code -> Text,
        place_name -> Text,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        school_ids -> Text,
        students_affected -> Integer,
        operator_id -> Nullable<BigInt>,
        status -> Text,
        planned_for -> Nullable<Date>,
        started_on -> Nullable<Date>,
        covered_on -> Nullable<Date>,
        confirmed_by -> Nullable<Text>,
        note -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    donors (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        inside_province -> Bool,
        tax_code -> Nullable<Text>,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        address -> Nullable<Text>,
        anonymous_publicly -> Bool,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        contact_purged_at -> Nullable<Timestamp>,
        keep_contact -> Bool,
    }
}

diesel::table! {
    campaigns (id) {
        id -> BigInt,
        name -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        status -> Text,
        targets -> Text,
        priority_admin_units -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    pledges (id) {
        id -> BigInt,
        donor_id -> BigInt,
        campaign_id -> BigInt,
        kind -> Text,
        amount_vnd -> Nullable<BigInt>,
        quantity -> Nullable<Integer>,
        device_type -> Nullable<Text>,
        device_condition -> Nullable<Text>,
        model -> Nullable<Text>,
        operator_name -> Nullable<Text>,
        data_gb_per_month -> Nullable<Integer>,
        months -> Nullable<Integer>,
        product -> Nullable<Text>,
        earmark_admin_unit -> Nullable<Text>,
        earmark_school_id -> Nullable<BigInt>,
        status -> Text,
        status_reason -> Nullable<Text>,
        received_amount_vnd -> BigInt,
        received_quantity -> Integer,
        confirmed_by -> Nullable<Text>,
        created_by -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pledge_instalments (id) {
        id -> BigInt,
        pledge_id -> BigInt,
        due_on -> Date,
        amount_vnd -> BigInt,
    }
}

diesel::table! {
    suppliers (id) {
        id -> BigInt,
        name -> Text,
        tax_code -> Nullable<Text>,
        contact -> Nullable<Text>,
        created_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    purchases (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        supplier_id -> BigInt,
        kind -> Text,
        device_type -> Nullable<Text>,
        description -> Nullable<Text>,
        unit_price_vnd -> BigInt,
        quantity -> Integer,
        total_vnd -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    receipts (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        pledge_id -> Nullable<BigInt>,
        donor_id -> Nullable<BigInt>,
        purchase_id -> Nullable<BigInt>,
        receipt_type -> Text,
        kind -> Text,
        amount_vnd -> Nullable<BigInt>,
        quantity -> Nullable<Integer>,
        device_type -> Nullable<Text>,
        received_on -> Date,
        received_by -> Text,
        bank_reference -> Nullable<Text>,
        reverses_id -> Nullable<BigInt>,
        over_pledge -> Bool,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        /// What a donor follows the gift by (unguessable).
        public_ref -> Nullable<Text>,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        entry_type -> Text,
        debit_account -> Text,
        credit_account -> Text,
        amount_vnd -> BigInt,
        receipt_id -> Nullable<BigInt>,
        purchase_id -> Nullable<BigInt>,
        at -> Timestamp,
    }
}

diesel::table! {
    warehouses (id) {
        id -> BigInt,
        name -> Text,
        admin_unit_code -> Text,
        address -> Nullable<Text>,
        created_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    warehouse_staff (user_id, warehouse_id) {
        user_id -> BigInt,
        warehouse_id -> BigInt,
    }
}

diesel::table! {
    inventory_items (id) {
        id -> BigInt,
        device_type -> Text,
        model -> Nullable<Text>,
        serial -> Nullable<Text>,
        imei -> Nullable<Text>,
        condition -> Text,
        receipt_id -> BigInt,
        warehouse_id -> BigInt,
        transfer_to -> Nullable<BigInt>,
        earmark_admin_unit -> Nullable<Text>,
        status -> Text,
        checked_by -> Nullable<Text>,
        checked_at -> Nullable<Timestamp>,
        status_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        profile_version -> Nullable<Integer>,
        profile_failures -> Nullable<Text>,
        profile_applied_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    inventory_packages (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        months -> Nullable<Integer>,
        receipt_id -> BigInt,
        warehouse_id -> BigInt,
        earmark_admin_unit -> Nullable<Text>,
        created_at -> Timestamp,
        child_safe -> Nullable<Text>,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> BigInt,
        movement -> Text,
        warehouse_id -> BigInt,
        stock_key -> Text,
        item_id -> Nullable<BigInt>,
        package_id -> Nullable<BigInt>,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        quantity -> Integer,
        reason -> Nullable<Text>,
        actor -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    allocations (id) {
        id -> BigInt,
        need_id -> BigInt,
        item_id -> Nullable<BigInt>,
        package_id -> Nullable<BigInt>,
        quantity -> Integer,
        status -> Text,
        cancel_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    handovers (id) {
        id -> BigInt,
        allocation_id -> BigInt,
        received_by_name -> Text,
        relation -> Text,
        handed_on -> Date,
        handed_by -> Text,
        proof_ref -> Nullable<Text>,
        acknowledged -> Bool,
        returned_on -> Nullable<Date>,
        return_reason -> Nullable<Text>,
        created_at -> Timestamp,
        receiver_purged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Per school and grade, the counts of a coverage line as folded so far
    /// (PostgreSQL; SQLite's triggers keep them exact at once): readers sum
    /// `coverage_count_parts`.
    coverage_counts (school_id, grade) {
        school_id -> BigInt,
        grade -> Integer,
        students -> Integer,
        with_device -> Integer,
        with_connectivity -> Integer,
        ready -> Integer,
        open_device_needs -> Integer,
        open_connectivity_needs -> Integer,
        open_data_package_needs -> Integer,
        needs_reported -> Integer,
        needs_verified -> Integer,
        needs_approved -> Integer,
        needs_allocated -> Integer,
        needs_fulfilled -> Integer,
        open_software_needs -> Integer,
    }
}

diesel::table! {
    /// The same per school, over all its grades, as folded so far: readers
    /// sum `coverage_school_count_parts`.
    coverage_school_counts (school_id) {
        school_id -> BigInt,
        students -> Integer,
        with_device -> Integer,
        with_connectivity -> Integer,
        ready -> Integer,
        open_device_needs -> Integer,
        open_connectivity_needs -> Integer,
        open_data_package_needs -> Integer,
        needs_reported -> Integer,
        needs_verified -> Integer,
        needs_approved -> Integer,
        needs_allocated -> Integer,
        needs_fulfilled -> Integer,
        open_software_needs -> Integer,
    }
}

diesel::table! {
    /// A view (migration 000024): the rows of `coverage_counts` and the
    /// deltas noted by statements and not folded yet. Several rows may share
    /// a key; their sums always equal a count of the rows.
    coverage_count_parts (school_id, grade) {
        school_id -> BigInt,
        grade -> Integer,
        students -> Integer,
        with_device -> Integer,
        with_connectivity -> Integer,
        ready -> Integer,
        open_device_needs -> Integer,
        open_connectivity_needs -> Integer,
        open_data_package_needs -> Integer,
        needs_reported -> Integer,
        needs_verified -> Integer,
        needs_approved -> Integer,
        needs_allocated -> Integer,
        needs_fulfilled -> Integer,
        open_software_needs -> Integer,
    }
}

diesel::table! {
    /// A view: the rows of `coverage_school_counts` and the deltas not folded
    /// yet, to be summed per school like `coverage_count_parts`.
    coverage_school_count_parts (school_id) {
        school_id -> BigInt,
        students -> Integer,
        with_device -> Integer,
        with_connectivity -> Integer,
        ready -> Integer,
        open_device_needs -> Integer,
        open_connectivity_needs -> Integer,
        open_data_package_needs -> Integer,
        needs_reported -> Integer,
        needs_verified -> Integer,
        needs_approved -> Integer,
        needs_allocated -> Integer,
        needs_fulfilled -> Integer,
        open_software_needs -> Integer,
    }
}

diesel::table! {
    /// One-off data maintenance, once per database.
    maintenance_runs (name) {
        name -> Text,
        ran_at -> Timestamp,
        report -> Text,
    }
}

diesel::table! {
    /// Events written with the change they report (the outbox).
    outbox_events (id) {
        id -> BigInt,
        event_type -> Text,
        entity -> Text,
        entity_id -> BigInt,
        admin_unit_code -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        url -> Text,
        event_types -> Text,
        admin_unit_code -> Nullable<Text>,
        secret -> Text,
        active -> Bool,
        consecutive_failures -> Integer,
        disabled_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        subscription_id -> BigInt,
        event_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::table! {
    drives (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        organisation -> Text,
        organisation_kind -> Text,
        target_vnd -> Nullable<BigInt>,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        contact_name -> Text,
        contact_phone -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    drive_receipts (receipt_id) {
        receipt_id -> BigInt,
        drive_id -> BigInt,
        contributor_count -> Integer,
        contributors -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    articles (id) {
        id -> BigInt,
        kind -> Text,
        title -> Text,
        slug -> Text,
        summary -> Text,
        body_markdown -> Text,
        campaign_id -> Nullable<BigInt>,
        admin_unit_code -> Nullable<Text>,
        cover_image -> Nullable<Text>,
        status -> Text,
        published_at -> Nullable<Timestamp>,
        author -> Text,
        consent_recorded_by -> Nullable<Text>,
        consent_recorded_at -> Nullable<Timestamp>,
        consent_note -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    article_events (id) {
        id -> BigInt,
        article_id -> BigInt,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor -> Text,
        reason -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    admin_unit_successors (old_code, new_code) {
        old_code -> Text,
        new_code -> Text,
        is_default -> Bool,
    }
}

diesel::table! {
    school_successor_overrides (school_id) {
        school_id -> BigInt,
        new_code -> Text,
        decided_by -> Text,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    device_profiles (version) {
        version -> Integer,
        name -> Text,
        software -> Text,
        safe_dns -> Text,
        filtering -> Text,
        notes -> Nullable<Text>,
        published_by -> Text,
        published_at -> Timestamp,
    }
}

diesel::table! {
    roles (name) {
        name -> Text,
    }
}

diesel::table! {
    platform_offers (id) {
        id -> BigInt,
        submitted_by -> BigInt,
        provider -> Text,
        product -> Text,
        kind -> Text,
        description -> Text,
        website -> Nullable<Text>,
        pricing -> Text,
        discount_percent -> Nullable<Integer>,
        price_per_student_vnd -> Nullable<BigInt>,
        available_from -> Date,
        available_until -> Nullable<Date>,
        conditions -> Nullable<Text>,
        levels -> Text,
        grade_from -> Integer,
        grade_to -> Integer,
        data_residency -> Nullable<Text>,
        child_safety -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    platform_offer_events (id) {
        id -> BigInt,
        offer_id -> BigInt,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor -> Text,
        reason -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    platform_adoptions (school_id, offer_id) {
        school_id -> BigInt,
        offer_id -> BigInt,
        student_count -> Integer,
        started_on -> Date,
        recorded_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Purchases and reversals above the four-eyes amount, until decided.
    money_approvals (id) {
        id -> BigInt,
        operation -> Text,
        request -> Text,
        amount_vnd -> BigInt,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        reason -> Nullable<Text>,
        result_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(users -> admin_units (admin_unit_code));
diesel::joinable!(inventory_items -> warehouses (warehouse_id));
diesel::joinable!(allocations -> needs (need_id));
diesel::joinable!(handovers -> allocations (allocation_id));
diesel::joinable!(pledges -> donors (donor_id));
diesel::joinable!(pledges -> campaigns (campaign_id));
diesel::joinable!(pledge_instalments -> pledges (pledge_id));
diesel::joinable!(needs -> schools (school_id));
diesel::joinable!(needs -> students (student_id));
diesel::joinable!(need_events -> needs (need_id));
diesel::joinable!(schools -> admin_units (admin_unit_code));
diesel::joinable!(students -> schools (school_id));
diesel::joinable!(coverage_school_counts -> schools (school_id));
diesel::joinable!(coverage_school_count_parts -> schools (school_id));
diesel::joinable!(student_changes -> students (student_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(article_events -> articles (article_id));
diesel::joinable!(drive_receipts -> drives (drive_id));
diesel::joinable!(platform_offer_events -> platform_offers (offer_id));
diesel::joinable!(platform_adoptions -> platform_offers (offer_id));
diesel::joinable!(platform_adoptions -> schools (school_id));
diesel::joinable!(students_seen_unchanged -> students (student_id));

diesel::allow_tables_to_appear_in_same_query!(
    students_seen_unchanged,
    admin_unit_successors,
    school_successor_overrides,
    money_approvals,
    device_profiles,
    roles,
    platform_offers,
    platform_offer_events,
    platform_adoptions,
    drives,
    drive_receipts,
    articles,
    article_events,
    maintenance_runs,
    admin_units,
    users,
    api_clients,
    audit_log,
    schools,
    students,
    student_changes,
    idempotency_keys,
    admin_unit_flags,
    priority_rules,
    needs,
    need_events,
    operators,
    coverage_gaps,
    donors,
    campaigns,
    pledges,
    pledge_instalments,
    suppliers,
    purchases,
    receipts,
    ledger_entries,
    warehouses,
    warehouse_staff,
    inventory_items,
    inventory_packages,
    stock_movements,
    allocations,
    handovers,
    coverage_counts,
    coverage_count_parts,
    coverage_school_counts,
    coverage_school_count_parts,
    outbox_events,
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
);

diesel::allow_columns_to_appear_in_same_group_by_clause!(
    needs::school_id,
    needs::kind,
    needs::status,
    students::grade,
);

// Donation figures group package stock by the package's kind and the
// ledger's status.
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    inventory_packages::kind,
    stock_movements::to_status,
    stock_movements::from_status,
);

// The public donations page groups gifts by donor, kind and earmark.
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    receipts::donor_id,
    receipts::kind,
    receipts::device_type,
    pledges::earmark_admin_unit,
    schools::admin_unit_code,
);
