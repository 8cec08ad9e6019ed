//! What a pledge promises, one shape per kind. The wire form is flat (every
//! kind's fields optional, `kind` saying which apply, as clients and the
//! spec know it); it is parsed once, here, into a `Promise`, so nothing
//! after this asks "is this field set for this kind".

use super::model::{CreatePledge, DeviceCondition, NewPledgeInstalment};
use crate::donations::kinds::{DeviceType, DonationKind};
use crate::platform::error::FieldError;
use crate::platform::money::Vnd;

#[derive(Debug, Clone, PartialEq)]
pub enum Promise {
    /// Whole đồng, optionally in instalments that add up to it.
    Money {
        amount_vnd: Vnd,
        instalments: Vec<NewPledgeInstalment>,
    },
    Devices {
        device_type: DeviceType,
        condition: DeviceCondition,
        quantity: i32,
        model: Option<String>,
    },
    DataPackages {
        operator_name: String,
        quantity: i32,
        data_gb_per_month: i32,
        months: i32,
    },
    /// Licences for `months`.
    Software {
        product: String,
        quantity: i32,
        months: i32,
    },
}

/// The pledge columns a promise fills; the others stay empty.
#[derive(Debug, Default)]
pub struct PromiseColumns<'a> {
    pub amount_vnd: Option<Vnd>,
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub device_condition: Option<DeviceCondition>,
    pub model: Option<&'a str>,
    pub operator_name: Option<&'a str>,
    pub data_gb_per_month: Option<i32>,
    pub months: Option<i32>,
    pub product: Option<&'a str>,
}

/// The kind-specific fields of the wire form, in the order errors name them.
const FIELDS: [&str; 10] = [
    "amount_vnd",
    "instalments",
    "quantity",
    "device_type",
    "device_condition",
    "model",
    "operator_name",
    "data_gb_per_month",
    "months",
    "product",
];

/// (required, optional) fields of each kind; any other field is refused.
fn fields_of(kind: DonationKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        DonationKind::Money => (&["amount_vnd"], &["instalments"]),
        DonationKind::Device => (&["device_type", "quantity", "device_condition"], &["model"]),
        DonationKind::DataPackage => (
            &["operator_name", "quantity", "data_gb_per_month", "months"],
            &[],
        ),
        DonationKind::Software => (&["product", "quantity", "months"], &[]),
    }
}

fn present(input: &CreatePledge, field: &str) -> bool {
    match field {
        "amount_vnd" => input.amount_vnd.is_some(),
        "instalments" => !input.instalments.is_empty(),
        "quantity" => input.quantity.is_some(),
        "device_type" => input.device_type.is_some(),
        "device_condition" => input.device_condition.is_some(),
        "model" => input.model.is_some(),
        "operator_name" => input.operator_name.is_some(),
        "data_gb_per_month" => input.data_gb_per_month.is_some(),
        "months" => input.months.is_some(),
        "product" => input.product.is_some(),
        _ => false,
    }
}

impl Promise {
    /// The promise a request makes, or every field that is missing for its
    /// kind, present where the kind has no such thing, or does not add up.
    pub fn parse(input: &CreatePledge) -> Result<Promise, Vec<FieldError>> {
        let (required, optional) = fields_of(input.kind);
        let mut errors = Vec::new();
        for field in required {
            if !present(input, field) {
                errors.push(FieldError::new(
                    *field,
                    "required",
                    format!("a {} pledge needs {field}", input.kind),
                ));
            }
        }
        for field in FIELDS {
            if present(input, field) && !required.contains(&field) && !optional.contains(&field) {
                errors.push(FieldError::new(
                    field,
                    "not_allowed",
                    format!("a {} pledge has no {field}", input.kind),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let promise = match input.kind {
            DonationKind::Money => input.amount_vnd.map(|amount_vnd| Promise::Money {
                amount_vnd,
                instalments: input.instalments.clone(),
            }),
            DonationKind::Device => {
                match (input.device_type, input.device_condition, input.quantity) {
                    (Some(device_type), Some(condition), Some(quantity)) => {
                        Some(Promise::Devices {
                            device_type,
                            condition,
                            quantity,
                            model: input.model.clone(),
                        })
                    }
                    _ => None,
                }
            }
            DonationKind::DataPackage => match (
                &input.operator_name,
                input.quantity,
                input.data_gb_per_month,
                input.months,
            ) {
                (Some(operator_name), Some(quantity), Some(data_gb_per_month), Some(months)) => {
                    Some(Promise::DataPackages {
                        operator_name: operator_name.clone(),
                        quantity,
                        data_gb_per_month,
                        months,
                    })
                }
                _ => None,
            },
            DonationKind::Software => match (&input.product, input.quantity, input.months) {
                (Some(product), Some(quantity), Some(months)) => Some(Promise::Software {
                    product: product.clone(),
                    quantity,
                    months,
                }),
                _ => None,
            },
        };
        // Unreachable once every required field is present; kept as an
        // error rather than a panic.
        let promise = promise.ok_or_else(|| {
            vec![FieldError::new(
                "kind",
                "required",
                "the pledge is incomplete",
            )]
        })?;
        if let Promise::Money {
            amount_vnd,
            instalments,
        } = &promise
        {
            let total = instalments
                .iter()
                .try_fold(0i64, |sum, i| sum.checked_add(i.amount_vnd.get()));
            if !instalments.is_empty() && total != Some(amount_vnd.get()) {
                return Err(vec![FieldError::new(
                    "instalments",
                    "sum",
                    "the instalments must add up to amount_vnd",
                )]);
            }
        }
        Ok(promise)
    }

    pub fn kind(&self) -> DonationKind {
        match self {
            Promise::Money { .. } => DonationKind::Money,
            Promise::Devices { .. } => DonationKind::Device,
            Promise::DataPackages { .. } => DonationKind::DataPackage,
            Promise::Software { .. } => DonationKind::Software,
        }
    }

    pub fn instalments(&self) -> &[NewPledgeInstalment] {
        match self {
            Promise::Money { instalments, .. } => instalments,
            _ => &[],
        }
    }

    /// The columns this promise fills in the `pledges` row.
    pub fn columns(&self) -> PromiseColumns<'_> {
        match self {
            Promise::Money { amount_vnd, .. } => PromiseColumns {
                amount_vnd: Some(*amount_vnd),
                ..Default::default()
            },
            Promise::Devices {
                device_type,
                condition,
                quantity,
                model,
            } => PromiseColumns {
                quantity: Some(*quantity),
                device_type: Some(*device_type),
                device_condition: Some(*condition),
                model: model.as_deref(),
                ..Default::default()
            },
            Promise::DataPackages {
                operator_name,
                quantity,
                data_gb_per_month,
                months,
            } => PromiseColumns {
                quantity: Some(*quantity),
                operator_name: Some(operator_name),
                data_gb_per_month: Some(*data_gb_per_month),
                months: Some(*months),
                ..Default::default()
            },
            Promise::Software {
                product,
                quantity,
                months,
            } => PromiseColumns {
                quantity: Some(*quantity),
                months: Some(*months),
                product: Some(product),
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: serde_json::Value) -> Result<Promise, Vec<(String, String)>> {
        let input: CreatePledge = serde_json::from_value(body).expect("a well-formed request");
        Promise::parse(&input)
            .map_err(|errors| errors.into_iter().map(|e| (e.field, e.code)).collect())
    }

    fn refused(body: serde_json::Value) -> Vec<(String, String)> {
        parse(body).expect_err("refused")
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_owned(), code.to_owned())
    }

    #[test]
    fn each_kind_parses_into_its_own_shape() {
        let money = parse(json!({"campaign_id": 1, "kind": "money", "amount_vnd": 300,
            "instalments": [{"due_on": "2021-10-01", "amount_vnd": 100}, {"due_on": "2021-11-01", "amount_vnd": 200}]}))
        .unwrap();
        assert_eq!(money.kind(), DonationKind::Money);
        assert_eq!(money.instalments().len(), 2);
        assert_eq!(money.columns().amount_vnd.map(|a| a.get()), Some(300));
        assert_eq!(money.columns().quantity, None);

        let devices = parse(
            json!({"campaign_id": 1, "kind": "device", "device_type": "tablet",
            "quantity": 5, "device_condition": "used", "model": "Tab A"}),
        )
        .unwrap();
        let columns = devices.columns();
        assert_eq!((columns.quantity, columns.model), (Some(5), Some("Tab A")));
        assert_eq!(columns.device_condition, Some(DeviceCondition::Used));
        assert!(devices.instalments().is_empty());

        let data = parse(
            json!({"campaign_id": 1, "kind": "data_package", "operator_name": "Viettel",
            "quantity": 10, "data_gb_per_month": 4, "months": 6}),
        )
        .unwrap();
        assert_eq!(data.columns().operator_name, Some("Viettel"));
        assert_eq!(data.columns().months, Some(6));

        let software = parse(
            json!({"campaign_id": 1, "kind": "software", "product": "LMS",
            "quantity": 100, "months": 12}),
        )
        .unwrap();
        assert_eq!(software.kind(), DonationKind::Software);
        assert_eq!(software.columns().product, Some("LMS"));
    }

    #[test]
    fn missing_and_foreign_fields_are_each_named() {
        // (request, the (field, code) pairs it is refused with)
        let cases = [
            (
                json!({"campaign_id": 1, "kind": "money"}),
                vec![pair("amount_vnd", "required")],
            ),
            (
                json!({"campaign_id": 1, "kind": "device", "device_type": "laptop"}),
                vec![
                    pair("quantity", "required"),
                    pair("device_condition", "required"),
                ],
            ),
            (
                json!({"campaign_id": 1, "kind": "money", "amount_vnd": 5, "quantity": 2, "model": "x"}),
                vec![
                    pair("quantity", "not_allowed"),
                    pair("model", "not_allowed"),
                ],
            ),
            (
                json!({"campaign_id": 1, "kind": "software", "product": "p", "quantity": 1, "months": 1,
                    "instalments": [{"due_on": "2021-10-01", "amount_vnd": 1}], "operator_name": "V"}),
                vec![
                    pair("instalments", "not_allowed"),
                    pair("operator_name", "not_allowed"),
                ],
            ),
            (
                json!({"campaign_id": 1, "kind": "data_package", "operator_name": "V", "quantity": 1,
                    "data_gb_per_month": 1, "months": 1, "device_condition": "new"}),
                vec![pair("device_condition", "not_allowed")],
            ),
            (
                json!({"campaign_id": 1, "kind": "money", "amount_vnd": 300,
                    "instalments": [{"due_on": "2021-10-01", "amount_vnd": 100}]}),
                vec![pair("instalments", "sum")],
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(refused(body.clone()), expected, "{body}");
        }
    }
}
